using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Platform.Identity.Hosting;

/// <summary>
/// Makes the registered OIDC clients exactly what configuration says, on every start: creates missing ones,
/// updates changed ones (redirect URIs, secrets) and deletes clients configuration no longer names.
/// </summary>
public sealed class ClientSeeder(IOpenIddictApplicationManager applications, IOptions<IdentityServiceOptions> options, ILogger<ClientSeeder> logger)
{
    public const string WebClientId = "platform-web";
    public const string CliClientId = "platform-cli";
    public const string ApiScope = "api";

    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        var wanted = Descriptors(options.Value.Clients).ToDictionary(d => d.ClientId!);
        foreach (var descriptor in wanted.Values)
        {
            var existing = await applications.FindByClientIdAsync(descriptor.ClientId!, cancellationToken);
            if (existing is null)
                await applications.CreateAsync(descriptor, cancellationToken);
            else
                await applications.UpdateAsync(existing, descriptor, cancellationToken);
        }

        await foreach (var application in applications.ListAsync(count: null, offset: null, cancellationToken))
        {
            var clientId = await applications.GetClientIdAsync(application, cancellationToken);
            // Bots' clients are made at run time (Features/Bots.cs), not by configuration.
            if (clientId is not null && !wanted.ContainsKey(clientId) && !Features.Bots.IsBotClient(clientId))
            {
                logger.LogInformation("Removing the client {ClientId}: configuration no longer names it", clientId);
                await applications.DeleteAsync(application, cancellationToken);
            }
        }
    }

    internal static IEnumerable<OpenIddictApplicationDescriptor> Descriptors(IdentityServiceOptions.ClientOptions clients)
    {
        var web = new OpenIddictApplicationDescriptor
        {
            ClientId = WebClientId,
            DisplayName = "Platform web client",
            ClientType = ClientTypes.Public,
            ConsentType = ConsentTypes.Implicit,
            Permissions =
            {
                Permissions.Endpoints.Authorization,
                Permissions.Endpoints.Token,
                Permissions.Endpoints.Revocation,
                Permissions.Endpoints.EndSession,
                Permissions.GrantTypes.AuthorizationCode,
                Permissions.GrantTypes.RefreshToken,
                Permissions.ResponseTypes.Code,
                Permissions.Scopes.Profile,
                Permissions.Scopes.Email,
                Permissions.Scopes.Phone,
                Permissions.Scopes.Roles,
                Permissions.Prefixes.Scope + ApiScope,
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        };
        foreach (var uri in clients.WebRedirectUris)
            web.RedirectUris.Add(new Uri(uri));
        foreach (var uri in clients.WebPostLogoutRedirectUris)
            web.PostLogoutRedirectUris.Add(new Uri(uri));
        yield return web;

        yield return new OpenIddictApplicationDescriptor
        {
            ClientId = CliClientId,
            DisplayName = "Platform SDK and command line",
            ClientType = ClientTypes.Public,
            ConsentType = ConsentTypes.Implicit,
            Permissions =
            {
                Permissions.Endpoints.Token,
                Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.Password,
                Permissions.GrantTypes.RefreshToken,
                Permissions.Scopes.Profile,
                Permissions.Scopes.Email,
                Permissions.Scopes.Phone,
                Permissions.Scopes.Roles,
                Permissions.Prefixes.Scope + ApiScope,
            },
        };

        foreach (var (clientId, service) in clients.Services)
            yield return new OpenIddictApplicationDescriptor
            {
                ClientId = clientId,
                ClientSecret = service.Secret,
                DisplayName = $"Service {clientId}",
                ClientType = ClientTypes.Confidential,
                Permissions =
                {
                    Permissions.Endpoints.Token,
                    Permissions.Endpoints.Revocation,
                    Permissions.GrantTypes.ClientCredentials,
                    Permissions.Prefixes.Scope + ApiScope,
                    // Service-only: Messaging's feed of the whole conversation log. Users' clients are not permitted it.
                    Permissions.Prefixes.Scope + Platform.Contracts.Messaging.ConversationLogFeed.Scope,
                },
            };
    }
}
