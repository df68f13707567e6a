using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace Platform.ServiceDefaults;

/// <summary>Who is calling, as every service's endpoints ask it.</summary>
public static class Caller
{
    /// <summary>The caller's user id (the access token's <c>sub</c>); a token without one is answered 401.</summary>
    public static Guid UserId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue("sub"), out var id) ? id
            : throw new BadHttpRequestException("The access token's subject is not a user id.", StatusCodes.Status401Unauthorized);
}
