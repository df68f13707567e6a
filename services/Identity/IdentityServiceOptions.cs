using System.ComponentModel.DataAnnotations;
using Platform.Identity.Domain;

namespace Platform.Identity;

/// <summary>Identity's settings, bound from the <c>Identity</c> section and validated on start.</summary>
public sealed class IdentityServiceOptions
{
    public const string Section = "Identity";

    /// <summary>
    /// OpenIddict refuses plain HTTP unless this is false. Only local development and tests run without TLS;
    /// in production TLS ends at the Gateway, which forwards <c>X-Forwarded-Proto: https</c>.
    /// </summary>
    public bool RequireHttps { get; set; } = true;

    /// <summary>ISO 3166 region for phone numbers given without a country code.</summary>
    [Required]
    public string DefaultPhoneRegion { get; set; } = "US";

    /// <summary>
    /// PBKDF2-HMAC-SHA512 iterations of ASP.NET Core Identity's V3 hash: OWASP's Password Storage Cheat Sheet asks for
    /// 210,000 with SHA-512. A stored hash made with another count is re-hashed at its next successful sign-in.
    /// </summary>
    [Range(210_000, 10_000_000)]
    public int PasswordHashIterations { get; set; } = 210_000;

    [Range(8, 128)]
    public int PasswordMinLength { get; set; } = 8;

    [Required]
    public SignInThrottleOptions SignInThrottle { get; set; } = new();

    /// <summary>How many password hashes run at once, and how many more may wait (<see cref="Domain.PasswordWork"/>).</summary>
    [Required]
    public PasswordWorkOptions PasswordWork { get; set; } = new();

    public sealed class PasswordWorkOptions
    {
        /// <summary>Hashes or verifies at once; 0: one per core of the machine.</summary>
        [Range(0, 1024)]
        public int Concurrency { get; set; }

        /// <summary>Requests that may wait for their turn; one more is refused with 503 and Retry-After.</summary>
        [Range(0, 100_000)]
        public int QueueLimit { get; set; } = 200;
    }

    /// <summary>Largest request body accepted (bytes); 1,000 contacts to import fit well within the default.</summary>
    [Range(1024, 10 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 512 * 1024;

    /// <summary>Creates demo users with known passwords (<see cref="DemoUserPassword"/>); development only.</summary>
    public bool SeedDemoUsers { get; set; }

    public string? DemoUserPassword { get; set; }

    [Required]
    public TokenOptions Tokens { get; set; } = new();

    [Required]
    public KeyOptions Keys { get; set; } = new();

    [Required]
    public ClientOptions Clients { get; set; } = new();

    [Required]
    public ContactImportOptions ContactImport { get; set; } = new();

    /// <summary>Data exports (<c>POST /api/v1/users/me/exports</c>).</summary>
    public ExportOptions Export { get; set; } = new();

    public sealed class ExportOptions
    {
        /// <summary>
        /// The services asked for their part, by name (<c>messaging</c>, <c>notifications</c>, <c>presence</c>, <c>media</c>)
        /// with their internal base URL; each answers <c>GET /internal/v1/export</c> about the token's user. A service not
        /// listed is left out of the archive (its manifest says so).
        /// </summary>
        public Dictionary<string, string> Services { get; set; } = [];

        /// <summary>How long a ready archive can be downloaded.</summary>
        [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
        public TimeSpan Lifetime { get; set; } = TimeSpan.FromDays(7);

        /// <summary>Exports a user may ask for per <see cref="Window"/>.</summary>
        [Range(1, 1000)]
        public int PermitLimit { get; set; } = 3;

        [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
        public TimeSpan Window { get; set; } = TimeSpan.FromHours(1);

        /// <summary>An archive larger than this fails (kept in PostgreSQL).</summary>
        [Range(1024, 4L * 1024 * 1024 * 1024)]
        public long MaxArchiveBytes { get; set; } = 512L * 1024 * 1024;
    }

    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
    public TimeSpan InviteLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How long an emailed password reset code works.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan PasswordResetLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Wrong codes that void a password reset code (8 digits: 5 tries leave a 1 in 20 million chance).</summary>
    [Range(1, 20)]
    public int PasswordResetMaxAttempts { get; set; } = 5;

    /// <summary>How long an email or phone verification code works.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan VerificationLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Wrong codes that void a verification code (6 digits: 5 tries leave a 1 in 200,000 chance).</summary>
    [Range(1, 20)]
    public int VerificationMaxAttempts { get; set; } = 5;

    /// <summary>The shortest time between two codes sent for one account and channel.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan VerificationResendInterval { get; set; } = TimeSpan.FromMinutes(1);

    public sealed class TokenOptions
    {
        [Range(typeof(TimeSpan), "00:00:30", "1.00:00:00")]
        public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

        [Range(typeof(TimeSpan), "00:05:00", "365.00:00:00")]
        public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(14);

        /// <summary>
        /// How long a redeemed refresh token may be presented again (a client retrying after a lost response).
        /// Zero: every reuse is treated as theft, rejected, and revokes the whole token family.
        /// </summary>
        [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
        public TimeSpan RefreshTokenReuseLeeway { get; set; } = TimeSpan.Zero;
    }

    public sealed class KeyOptions
    {
        /// <summary>RSA private key (PEM) that signs access and identity tokens; or <see cref="SigningKeyFile"/>.</summary>
        public string? SigningKey { get; set; }

        public string? SigningKeyFile { get; set; }

        /// <summary>RSA private key (PEM) that encrypts authorization codes and refresh tokens; or <see cref="EncryptionKeyFile"/>.</summary>
        public string? EncryptionKey { get; set; }

        public string? EncryptionKeyFile { get; set; }

        /// <summary>
        /// Where a key that is not configured is generated and kept, in Development and Testing only
        /// (relative to the content root; <c>.local/</c> is git-ignored). Elsewhere a missing key stops the start.
        /// </summary>
        public string DevelopmentKeyFolder { get; set; } = ".local/identity-keys";
    }

    public sealed class ClientOptions
    {
        /// <summary>Exact redirect URIs of <c>platform-web</c> (authorization code + PKCE).</summary>
        public List<string> WebRedirectUris { get; set; } = [];

        public List<string> WebPostLogoutRedirectUris { get; set; } = [];

        /// <summary>Confidential clients for service-to-service calls, by client id; the secret comes from configuration.</summary>
        public Dictionary<string, ServiceClientOptions> Services { get; set; } = [];
    }

    public sealed class ServiceClientOptions
    {
        public string? Secret { get; set; }
    }

    /// <summary>
    /// Failed sign-ins slow further attempts down instead of locking the account: each key gets some failures free,
    /// then every further failure doubles the wait before the next attempt is even checked (from
    /// <see cref="FirstDelay"/> up to a cap). Failures are forgotten after <see cref="Window"/> without one.
    /// </summary>
    public sealed class SignInThrottleOptions
    {
        /// <summary>Failures free for one sign-in name (account) from one client address.</summary>
        [Range(1, 1000)]
        public int FreeFailuresPerAccountAndAddress { get; set; } = 3;

        /// <summary>Failures free from one client address, whatever the names (password spraying).</summary>
        [Range(1, 100_000)]
        public int FreeFailuresPerAddress { get; set; } = 30;

        /// <summary>
        /// Failures free for one account from all addresses together (guessing spread over many addresses). This one
        /// holds back only addresses the account has not signed in from, so it never keeps the owner out at home.
        /// </summary>
        [Range(1, 100_000)]
        public int FreeFailuresPerAccount { get; set; } = 10;

        [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
        public TimeSpan FirstDelay { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>The longest wait for an address, or for a name from one address.</summary>
        [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(15);

        /// <summary>The longest wait an account's own counter imposes on addresses it has not signed in from.</summary>
        [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
        public TimeSpan MaxAccountDelay { get; set; } = TimeSpan.FromMinutes(1);

        [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
        public TimeSpan Window { get; set; } = TimeSpan.FromDays(1);

        /// <summary>How long an address the account signed in from stays exempt from the account's own counter.</summary>
        [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
        public TimeSpan TrustedAddressLifetime { get; set; } = TimeSpan.FromDays(90);
    }

    public sealed class ContactImportOptions
    {
        public const int MaxEntries = 1000;

        /// <summary>Imports one user may make per <see cref="Window"/>: bounds how fast anyone can enumerate accounts.</summary>
        [Range(1, 10_000)]
        public int PermitLimit { get; set; } = 10;

        [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
        public TimeSpan Window { get; set; } = TimeSpan.FromHours(1);
    }

    /// <summary>What data annotations cannot say; each message names the setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (!ContactAddresses.IsKnownRegion(DefaultPhoneRegion))
            yield return $"Identity:DefaultPhoneRegion '{DefaultPhoneRegion}' is not a known ISO 3166 region code.";
        if (SeedDemoUsers && string.IsNullOrWhiteSpace(DemoUserPassword))
            yield return "Identity:DemoUserPassword is required when Identity:SeedDemoUsers is true.";
        foreach (var uri in Clients.WebRedirectUris.Concat(Clients.WebPostLogoutRedirectUris))
            if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.Fragment.Length > 0)
                yield return $"Identity:Clients:WebRedirectUris/WebPostLogoutRedirectUris: '{uri}' is not an absolute URI without a fragment.";
        foreach (var (clientId, client) in Clients.Services)
            if (string.IsNullOrWhiteSpace(client.Secret) || client.Secret.Length < 16)
                yield return $"Identity:Clients:Services:{clientId}:Secret must be set (at least 16 characters), e.g. as the environment variable Identity__Clients__Services__{clientId}__Secret.";
        if (Keys.SigningKey is not null && Keys.SigningKeyFile is not null)
            yield return "Set Identity:Keys:SigningKey or Identity:Keys:SigningKeyFile, not both.";
        if (Keys.EncryptionKey is not null && Keys.EncryptionKeyFile is not null)
            yield return "Set Identity:Keys:EncryptionKey or Identity:Keys:EncryptionKeyFile, not both.";
    }
}
