using Platform.Identity.Data;

namespace Platform.Identity.Features;

/// <summary>What the owner of an account sees about it.</summary>
public sealed record MyProfile(
    Guid Id, string Username, string DisplayName, string? Email, bool EmailVerified, string? Phone, bool PhoneVerified,
    Guid? AvatarMediaId, string? StatusText, IReadOnlyList<string> Roles, DateTimeOffset CreatedAt, bool IsBot = false)
{
    public static MyProfile From(User user, IEnumerable<string> roles) => new(
        user.Id, user.UserName!, user.DisplayName, user.Email, user.Email is not null && user.EmailConfirmed,
        user.PhoneNumber, user.PhoneNumber is not null && user.PhoneNumberConfirmed,
        user.AvatarMediaId, user.StatusText, roles.Order().ToList(), user.CreatedAt, user.IsBot);
}

/// <summary>What any signed-in user sees about another: never an email or phone number.</summary>
public sealed record PublicProfile(Guid Id, string Username, string DisplayName, Guid? AvatarMediaId, string? StatusText, bool Disabled, bool IsBot = false)
{
    public static PublicProfile From(User user) =>
        new(user.Id, user.UserName!, user.DisplayName, user.AvatarMediaId, user.StatusText, user.IsDisabled, user.IsBot);
}

public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);
