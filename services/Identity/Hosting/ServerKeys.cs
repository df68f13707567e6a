using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace Platform.Identity.Hosting;

/// <summary>
/// The RSA keys of the OIDC server: from configuration (PEM text) or a mounted PEM file; in Development and Testing
/// a missing key is generated once and kept in a git-ignored folder, so tokens survive restarts.
/// </summary>
public static class ServerKeys
{
    public static SigningCredentials Signing(IdentityServiceOptions.KeyOptions keys, IHostEnvironment environment)
    {
        var key = Load("signing", keys.SigningKey, keys.SigningKeyFile, keys, environment);
        return new SigningCredentials(key, SecurityAlgorithms.RsaSha256);
    }

    public static EncryptingCredentials Encryption(IdentityServiceOptions.KeyOptions keys, IHostEnvironment environment)
    {
        var key = Load("encryption", keys.EncryptionKey, keys.EncryptionKeyFile, keys, environment);
        return new EncryptingCredentials(key, SecurityAlgorithms.RsaOAEP, SecurityAlgorithms.Aes256CbcHmacSha512);
    }

    private static RsaSecurityKey Load(string purpose, string? pem, string? file, IdentityServiceOptions.KeyOptions keys, IHostEnvironment environment)
    {
        var setting = purpose == "signing" ? "SigningKey" : "EncryptionKey";
        if (file is not null)
        {
            if (!File.Exists(file))
                throw new InvalidOperationException($"Identity:Keys:{setting}File '{file}' does not exist.");
            pem = File.ReadAllText(file);
        }
        else if (pem is null)
        {
            if (!environment.IsDevelopment() && !environment.IsEnvironment("Testing"))
                throw new InvalidOperationException(
                    $"Identity:Keys:{setting} (PEM) or Identity:Keys:{setting}File is required outside Development and Testing " +
                    $"(e.g. the environment variable Identity__Keys__{setting}File pointing at a mounted secret).");
            pem = DevelopmentKey(Path.Combine(environment.ContentRootPath, keys.DevelopmentKeyFolder), purpose);
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
        }
        catch (ArgumentException exception)
        {
            throw new InvalidOperationException($"Identity:Keys:{setting} is not an RSA private key in PEM form: {exception.Message}");
        }
        if (rsa.KeySize < 2048)
            throw new InvalidOperationException($"Identity:Keys:{setting} must be an RSA key of at least 2048 bits.");

        var key = new RsaSecurityKey(rsa);
        // The JWK thumbprint as key id: stable across restarts and instances holding the same key.
        key.KeyId = Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false))).ComputeJwkThumbprint());
        return key;
    }

    private static string DevelopmentKey(string folder, string purpose)
    {
        var path = Path.Combine(folder, purpose + ".pem");
        if (File.Exists(path))
            return File.ReadAllText(path);

        Directory.CreateDirectory(folder);
        using var rsa = RSA.Create(2048);
        var temporary = path + "." + Guid.NewGuid().ToString("N");
        File.WriteAllText(temporary, rsa.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            // Two instances starting together: the first key written wins and both use it.
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
        }
        return File.ReadAllText(path);
    }
}
