namespace Platform.Contracts.Identity;

public sealed record UserRegistered
{
    public required Guid UserId { get; init; }

    public required string Username { get; init; }

    public required string DisplayName { get; init; }

    /// <summary>Set when the user registered with an invite; the two users become contacts.</summary>
    public Guid? InvitedBy { get; init; }

    public required DateTimeOffset RegisteredAt { get; init; }

    /// <summary>A bot user created by a platform admin (<c>POST /api/v1/bots</c>), shown as a bot.</summary>
    public bool IsBot { get; init; }
}

public sealed record UserProfileChanged
{
    public required Guid UserId { get; init; }

    public required string Username { get; init; }

    public required string DisplayName { get; init; }

    public Guid? AvatarMediaId { get; init; }

    public string? StatusText { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }
}

/// <summary>The user can no longer sign in; services drop its sessions and connections.</summary>
public sealed record UserDisabled
{
    public required Guid UserId { get; init; }

    public required Guid DisabledBy { get; init; }

    public required DateTimeOffset DisabledAt { get; init; }
}

/// <summary>
/// A platform admin granted or revoked a user's platform role: <see cref="Roles"/> are the user's platform roles now
/// (<c>admin</c>, or none). Services that let admins do more than members (Notifications' webhooks for every
/// conversation) stop what the user may no longer do.
/// </summary>
public sealed record UserRolesChanged
{
    public required Guid UserId { get; init; }

    public required IReadOnlyList<string> Roles { get; init; }

    public required Guid ChangedBy { get; init; }

    public required DateTimeOffset ChangedAt { get; init; }
}

/// <summary>An invite to be delivered to an email address or phone number by Notifications.</summary>
public sealed record InviteCreated
{
    public required Guid InviteId { get; init; }

    public required Guid InvitedBy { get; init; }

    public string? Email { get; init; }

    /// <summary>E.164.</summary>
    public string? Phone { get; init; }

    /// <summary>The secret the invitee presents when registering.</summary>
    public required string Token { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// The user signed out everywhere: every access token issued before <see cref="RevokedAt"/> is refused from now on,
/// and the user's live connections are closed. (<see cref="UserDisabled"/> does the same for every token, for good.)
/// </summary>
public sealed record UserSessionsRevoked
{
    public required Guid UserId { get; init; }

    public required DateTimeOffset RevokedAt { get; init; }
}

/// <summary>
/// A password reset was asked for an account's email: Notifications emails <see cref="Code"/>, which the user presents to
/// <c>POST /api/v1/password-reset/confirm</c> before <see cref="ExpiresAt"/>.
/// </summary>
public sealed record PasswordResetRequested
{
    public required Guid RequestId { get; init; }

    public required Guid UserId { get; init; }

    public required string Email { get; init; }

    public required string Code { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public required DateTimeOffset RequestedAt { get; init; }
}

/// <summary>
/// A user asked to verify their email or phone number: Notifications sends <see cref="Code"/> to <see cref="Address"/>
/// (by email for <c>email</c>, by SMS for <c>phone</c>); the user presents it to
/// <c>POST /api/v1/users/me/verification/confirm</c> before <see cref="ExpiresAt"/>.
/// </summary>
public sealed record VerificationCodeRequested
{
    public required Guid RequestId { get; init; }

    public required Guid UserId { get; init; }

    /// <summary><c>email</c> or <c>phone</c>.</summary>
    public required string Channel { get; init; }

    /// <summary>The normalised email address or E.164 phone number.</summary>
    public required string Address { get; init; }

    public required string Code { get; init; }

    public required DateTimeOffset ExpiresAt { get; init; }

    public required DateTimeOffset RequestedAt { get; init; }
}

/// <summary>
/// The user deleted their account (<c>DELETE /api/v1/users/me</c>): Identity has erased it already, leaving only the id;
/// every service erases what it holds about the user (idempotently: it may arrive more than once), and every token of the
/// user is refused from now on and their connections are closed, as for <see cref="UserDisabled"/>.
/// </summary>
public sealed record UserDeleted
{
    public required Guid UserId { get; init; }

    public required DateTimeOffset DeletedAt { get; init; }
}
