using System.Net.Mail;
using System.Security.Cryptography;
using System.Text;
using PhoneNumbers;

namespace Platform.Identity.Domain;

/// <summary>
/// The normalised forms of emails and phone numbers: what uniqueness, sign-in and contact matching compare,
/// and what clients hash (SHA-256, lower-case hex) for a hashed contact import.
/// </summary>
public static class ContactAddresses
{
    public const int EmailMaxLength = 254;

    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    /// <summary>Trimmed and lower-cased; null when it is not a single plain address.</summary>
    public static string? NormaliseEmail(string? value)
    {
        var email = value?.Trim();
        if (string.IsNullOrEmpty(email) || email.Length > EmailMaxLength || email.Any(char.IsWhiteSpace) || email.Any(char.IsControl))
            return null;
        // MailAddress also accepts "Name <a@b>" and other display forms; only the bare address is an address here.
        if (!MailAddress.TryCreate(email, out var parsed) || parsed.Address != email || parsed.Host.Length == 0 || !parsed.Host.Contains('.'))
            return null;
        return email.ToLowerInvariant();
    }

    /// <summary>E.164 (<c>+4915123456789</c>); numbers without a country code are read in <paramref name="defaultRegion"/>.</summary>
    public static string? NormalisePhone(string? value, string defaultRegion)
    {
        var phone = value?.Trim();
        if (string.IsNullOrEmpty(phone) || phone.Length > 32 || phone.Any(char.IsControl) || phone.Any(char.IsLetter))
            return null;
        try
        {
            var parsed = Phones.Parse(phone, defaultRegion);
            return Phones.IsValidNumber(parsed) ? Phones.Format(parsed, PhoneNumberFormat.E164) : null;
        }
        catch (NumberParseException)
        {
            return null;
        }
    }

    public static bool IsKnownRegion(string region) => Phones.GetSupportedRegions().Contains(region);

    public static string Hash(string normalised) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));

    public static bool IsHash(string value) => value.Length == 64 && value.All(char.IsAsciiHexDigit);
}
