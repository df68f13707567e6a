using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Platform.ServiceDefaults;

/// <summary>The one place that decides which status an unhandled exception becomes.</summary>
public static class ExceptionStatusCodes
{
    public static int Select(Exception exception) => exception switch
    {
        BadHttpRequestException bad => bad.StatusCode,
        JsonException => StatusCodes.Status400BadRequest,
        FormatException => StatusCodes.Status400BadRequest,
        OperationCanceledException => StatusCodes.Status499ClientClosedRequest,
        TimeoutException => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };
}
