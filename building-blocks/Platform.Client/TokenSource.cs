using Duende.IdentityModel.Client;

namespace Platform.Client;

/// <summary>
/// Keeps a valid access token: signs in with the password grant (or a bot's client credentials), refreshes before
/// expiry (refresh tokens rotate; client credentials simply ask again).
/// </summary>
internal sealed class TokenSource(PlatformClientOptions options, HttpClient http)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _accessToken;
    private string? _refreshToken;
    private DateTimeOffset _expiresAt;
    private string? _tokenEndpoint;

    public async Task<string> GetAsync(CancellationToken cancellationToken)
    {
        if (options.AccessTokenProvider is { } provider)
            return await provider(cancellationToken);
        if (_accessToken is not null && DateTimeOffset.UtcNow < _expiresAt - TimeSpan.FromSeconds(60))
            return _accessToken;

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_accessToken is not null && DateTimeOffset.UtcNow < _expiresAt - TimeSpan.FromSeconds(60))
                return _accessToken;
            _tokenEndpoint ??= await DiscoverAsync(cancellationToken);
            TokenResponse response;
            if (_refreshToken is not null)
            {
                response = await http.RequestRefreshTokenAsync(new RefreshTokenRequest
                {
                    Address = _tokenEndpoint, ClientId = options.ClientId, RefreshToken = _refreshToken,
                }, cancellationToken);
                if (response.IsError)
                    _refreshToken = null;
            }
            else
                response = new TokenResponse();
            if (options.ClientSecret is not null)
                response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
                {
                    Address = _tokenEndpoint, ClientId = options.ClientId, ClientSecret = options.ClientSecret, Scope = "api",
                }, cancellationToken);
            else if (_refreshToken is null)
                response = await http.RequestPasswordTokenAsync(new PasswordTokenRequest
                {
                    Address = _tokenEndpoint, ClientId = options.ClientId, Scope = options.Scope,
                    UserName = options.Username ?? throw new InvalidOperationException("Set Username and Password, or an AccessTokenProvider."),
                    Password = options.Password,
                    Parameters = options.TwoFactorCodeProvider is { } twoFactor
                        ? new Parameters { { "otp", await twoFactor(cancellationToken) } }
                        : [],
                }, cancellationToken);
            if (response.IsError)
                throw new PlatformException(401, "Sign-in failed", response.ErrorDescription ?? response.Error);
            _accessToken = response.AccessToken!;
            _refreshToken = response.RefreshToken ?? _refreshToken;
            _expiresAt = DateTimeOffset.UtcNow.AddSeconds(response.ExpiresIn);
            return _accessToken;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<string> DiscoverAsync(CancellationToken cancellationToken)
    {
        var discovery = await http.GetDiscoveryDocumentAsync(new DiscoveryDocumentRequest
        {
            Address = options.GatewayUrl.ToString(),
            Policy = { RequireHttps = options.GatewayUrl.Scheme == Uri.UriSchemeHttps },
        }, cancellationToken);
        if (discovery.IsError)
            throw new PlatformException(503, "Discovery failed", discovery.Error);
        return discovery.TokenEndpoint!;
    }
}
