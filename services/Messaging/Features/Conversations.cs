using Platform.Messaging.Domain;

namespace Platform.Messaging.Features;

/// <summary>A conversation as its members see it.</summary>
public sealed record ConversationDto(
    Guid Id,
    ConversationKind Kind,
    string? Title,
    string? Topic,
    bool IsPublic,
    int? RetentionDays,
    MemberRole Role,
    int MemberCount,
    long LastSeq,
    Guid CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivityAt,
    int SlowModeSeconds)
{
    public static ConversationDto From(ConversationView c, MemberRole role) =>
        new(c.Id, c.Kind, c.Title, c.Topic, c.IsPublic, c.RetentionDays, role, c.MemberCount, c.LastSeq, c.CreatedBy, c.CreatedAt, c.LastActivityAt,
            c.SlowModeSeconds);
}

public static class ConversationRules
{
    public static bool TryParseKind(string? value, out ConversationKind kind)
    {
        kind = default;
        return value is not null && Enum.TryParse(value, ignoreCase: true, out kind) && Enum.IsDefined(kind) && !int.TryParse(value, out _);
    }

    public static bool TryParseRole(string? value, out MemberRole role)
    {
        role = default;
        return value is not null && Enum.TryParse(value, ignoreCase: true, out role) && Enum.IsDefined(role) && !int.TryParse(value, out _);
    }

    /// <summary>A direct conversation's id follows from its two members, so creating it twice finds the first.</summary>
    public static Guid DirectConversationId(Guid a, Guid b)
    {
        var (low, high) = a.CompareTo(b) < 0 ? (a, b) : (b, a);
        Span<byte> input = stackalloc byte[32];
        low.TryWriteBytes(input);
        high.TryWriteBytes(input[16..]);
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(input, hash);
        // Shaped as an RFC 9562 version 8 (custom) UUID.
        hash[7] = (byte)((hash[7] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16]);
    }

    public static DomainError? ValidateSettings(string? title, string? topic, int? retentionDays, MessagingOptions options)
    {
        if (title is { Length: > 0 } && title.Length > options.MaxTitleLength)
            return DomainError.Invalid($"The title is longer than {options.MaxTitleLength} characters.");
        if (topic is { Length: > 0 } && topic.Length > options.MaxTopicLength)
            return DomainError.Invalid($"The topic is longer than {options.MaxTopicLength} characters.");
        if (retentionDays is < 0 || retentionDays > options.MaxRetentionDays)
            return DomainError.Invalid($"retentionDays must be between 1 and {options.MaxRetentionDays}, or 0 to keep messages forever.");
        return null;
    }

    public static string? CleanText(string? value) => value is null ? null : MessageText.Normalize(value).ReplaceLineEndings(" ");
}
