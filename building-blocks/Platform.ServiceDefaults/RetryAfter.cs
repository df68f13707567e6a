using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Platform.ServiceDefaults;

/// <summary>The <c>Retry-After</c> header of a 429 or 503: whole seconds, rounded up, at least one.</summary>
public static class RetryAfter
{
    /// <summary>Sets the header; answers the seconds it says.</summary>
    public static int Set(HttpResponse response, TimeSpan wait)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return seconds;
    }
}
