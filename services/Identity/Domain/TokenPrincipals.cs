using System.Collections.Immutable;
using System.Security.Claims;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using Platform.Identity.Data;
using Platform.ServiceDefaults;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Platform.Identity.Domain;

/// <summary>
/// The identities OpenIddict turns into tokens. Access tokens carry <c>sub</c>, <c>name</c>, <c>preferred_username</c>
/// and <c>role</c> for audience <c>api</c>; identity tokens carry what the granted scopes allow (<c>email</c>,
/// <c>email_verified</c>; <c>phone_number</c>, <c>phone_number_verified</c>). Email and phone never go into access
/// tokens (they travel to every service).
/// </summary>
public static class TokenPrincipals
{
    public const string Audience = "api";
    public const string ServiceRole = "service";

    /// <summary>The role every bot's access token carries (the Gateway gives bots rate limits of their own by it).</summary>
    public const string BotRole = "bot";

    public static ClaimsPrincipal ForUser(User user, IEnumerable<string> roles, ImmutableArray<string> scopes, DateTimeOffset issuedAt)
    {
        var identity = NewIdentity()
            .SetClaim(Claims.Subject, user.Id.ToString())
            // To the millisecond, so that services can refuse exactly the tokens issued before a sign-out everywhere.
            .SetClaim(TokenRevocations.IssuedAtMillisecondsClaim, issuedAt.ToUnixTimeMilliseconds())
            .SetClaim(Claims.Name, user.DisplayName)
            .SetClaim(Claims.PreferredUsername, user.UserName)
            .SetClaim(Claims.Email, user.Email)
            .SetClaim(Claims.EmailVerified, user.Email is null ? null : user.EmailConfirmed)
            .SetClaim(Claims.PhoneNumber, user.PhoneNumber)
            .SetClaim(Claims.PhoneNumberVerified, user.PhoneNumber is null ? null : user.PhoneNumberConfirmed)
            .SetClaims(Claims.Role, user.IsBot ? [.. roles, BotRole] : [.. roles]);
        identity.SetScopes(scopes);
        identity.SetResources(Audience);
        identity.SetDestinations(claim => claim.Type switch
        {
            Claims.Subject => [Destinations.AccessToken, Destinations.IdentityToken],
            TokenRevocations.IssuedAtMillisecondsClaim => [Destinations.AccessToken],
            Claims.Name or Claims.PreferredUsername when identity.HasScope(Scopes.Profile) => [Destinations.AccessToken, Destinations.IdentityToken],
            Claims.Name or Claims.PreferredUsername => [Destinations.AccessToken],
            Claims.Email or Claims.EmailVerified when identity.HasScope(Scopes.Email) => [Destinations.IdentityToken],
            Claims.PhoneNumber or Claims.PhoneNumberVerified when identity.HasScope(Scopes.Phone) => [Destinations.IdentityToken],
            Claims.Role when identity.HasScope(Scopes.Roles) => [Destinations.AccessToken, Destinations.IdentityToken],
            Claims.Role => [Destinations.AccessToken],
            _ => [],
        });
        return new ClaimsPrincipal(identity);
    }

    /// <summary>A service calling another service (client credentials): its client id is the subject.</summary>
    public static ClaimsPrincipal ForService(string clientId, string? displayName, ImmutableArray<string> scopes)
    {
        var identity = NewIdentity()
            .SetClaim(Claims.Subject, clientId)
            .SetClaim(Claims.Name, displayName ?? clientId)
            .SetClaims(Claims.Role, [ServiceRole]);
        identity.SetScopes(scopes);
        identity.SetResources(Audience);
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return new ClaimsPrincipal(identity);
    }

    private static ClaimsIdentity NewIdentity() =>
        new(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
}
