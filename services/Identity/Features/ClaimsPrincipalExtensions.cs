using System.Security.Claims;

namespace Platform.Identity.Features;

public static class ClaimsPrincipalExtensions
{
    /// <summary>The user id of a user's token; null for a service's (client credentials) token.</summary>
    public static Guid? UserId(this ClaimsPrincipal principal) =>
        Guid.TryParse(principal.FindFirstValue("sub"), out var id) ? id : null;
}
