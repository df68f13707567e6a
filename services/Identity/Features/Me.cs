using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Platform.Contracts.Identity;
using Platform.Identity.Data;
using Platform.Identity.Domain;
using Platform.Identity.Hosting;

namespace Platform.Identity.Features;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record UpdateProfileRequest(
    Optional<string> DisplayName, Optional<string> Username, Optional<Guid?> AvatarMediaId, Optional<string> StatusText);

/// <summary><c>GET/PATCH /api/v1/users/me</c>: the signed-in user's own profile.</summary>
public static class Me
{
    public static RouteGroupBuilder MapMe(this RouteGroupBuilder users)
    {
        users.MapGet("/me", GetAsync);
        users.MapPatch("/me", UpdateAsync);
        return users;
    }

    private static async Task<Results<Ok<MyProfile>, ProblemHttpResult>> GetAsync(ClaimsPrincipal principal, UserManager<User> users)
    {
        if (await FindAsync(principal, users) is not { } user)
            return NoAccount();
        return TypedResults.Ok(MyProfile.From(user, await users.GetRolesAsync(user)));
    }

    private static async Task<Results<Ok<MyProfile>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        UpdateProfileRequest request,
        ClaimsPrincipal principal,
        UserManager<User> users,
        IdentityDb db,
        TimeProvider time)
    {
        if (await FindAsync(principal, users) is not { } user)
            return NoAccount();

        var errors = new Dictionary<string, string[]>();
        var displayName = request.DisplayName.Value?.Trim();
        if (request.DisplayName.IsSet && ProfileRules.DisplayNameError(displayName) is { } displayNameError)
            errors["displayName"] = [displayNameError];
        var username = request.Username.Value is null ? null : Usernames.Normalise(request.Username.Value);
        if (request.Username.IsSet && (username is null || !Usernames.IsValid(username)))
            errors["username"] = [ProfileRules.UsernameRule];
        var statusText = string.IsNullOrWhiteSpace(request.StatusText.Value) ? null : request.StatusText.Value.Trim();
        if (request.StatusText.IsSet && ProfileRules.StatusTextError(statusText) is { } statusError)
            errors["statusText"] = [statusError];
        if (request.AvatarMediaId is { IsSet: true, Value: { } avatar } && avatar == Guid.Empty)
            errors["avatarMediaId"] = ["Not a media id."];
        if (errors.Count > 0)
            return TypedResults.ValidationProblem(errors);

        var before = (user.DisplayName, user.UserName, user.AvatarMediaId, user.StatusText);
        if (request.DisplayName.IsSet)
            user.DisplayName = displayName!;
        if (request.Username.IsSet)
            user.UserName = username!;
        if (request.AvatarMediaId.IsSet)
            user.AvatarMediaId = request.AvatarMediaId.Value;
        if (request.StatusText.IsSet)
            user.StatusText = statusText;

        if (before != (user.DisplayName, user.UserName, user.AvatarMediaId, user.StatusText))
        {
            // Staged before UpdateAsync so the store's one SaveChanges writes the profile and its event together.
            var now = time.GetUtcNow();
            db.Add(new UserProfileChanged
            {
                UserId = user.Id,
                Username = user.UserName!,
                DisplayName = user.DisplayName,
                AvatarMediaId = user.AvatarMediaId,
                StatusText = user.StatusText,
                ChangedAt = now,
            }, now);
            var updated = await users.UpdateAsync(user);
            if (!updated.Succeeded)
            {
                if (updated.Errors.Any(e => e.Code == nameof(IdentityErrorDescriber.DuplicateUserName)))
                    return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Username taken",
                        detail: "This username is taken.", extensions: new Dictionary<string, object?> { ["field"] = "username" });
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["username"] = updated.Errors.Select(e => e.Description).ToArray() });
            }
        }
        return TypedResults.Ok(MyProfile.From(user, await users.GetRolesAsync(user)));
    }

    internal static async Task<User?> FindAsync(ClaimsPrincipal principal, UserManager<User> users) =>
        principal.UserId() is { } id && await users.FindByIdAsync(id.ToString()) is { IsDisabled: false } user ? user : null;

    internal static ProblemHttpResult NoAccount() => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound, title: "No account", detail: "The token does not belong to an active user account.");
}
