namespace Platform.Client;

/// <summary>The Platform refused a request: the problem details' status, title and detail.</summary>
public sealed class PlatformException(int status, string title, string? detail) : Exception($"{status} {title}: {detail}")
{
    /// <summary>The HTTP status.</summary>
    public int Status { get; } = status;

    /// <summary>The problem's title.</summary>
    public string Title { get; } = title;

    /// <summary>The problem's detail.</summary>
    public string? Detail { get; } = detail;

    /// <summary>When the server said to come back (<c>Retry-After</c> of a 429 or 503), if it did.</summary>
    public TimeSpan? RetryAfter { get; init; }
}
