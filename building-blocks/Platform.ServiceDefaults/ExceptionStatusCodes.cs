using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace Platform.ServiceDefaults;

/// <summary>The one place that decides which status an unhandled exception becomes.</summary>
public static class ExceptionStatusCodes
{
    /// <summary>What a 503 tells clients to wait before trying again: a database restart or a failover takes seconds.</summary>
    public const int RetryAfterSeconds = 3;

    public static int Select(Exception exception) => exception switch
    {
        BadHttpRequestException bad => bad.StatusCode,
        JsonException => StatusCodes.Status400BadRequest,
        FormatException => StatusCodes.Status400BadRequest,
        // A posted form that cannot be read (a NUL in a field, too many or too long fields), wherever it is read first.
        InvalidDataException when exception.TargetSite?.DeclaringType?.Namespace == "Microsoft.AspNetCore.WebUtilities"
            => StatusCodes.Status400BadRequest,
        OperationCanceledException => StatusCodes.Status499ClientClosedRequest,
        ServiceBusyException => StatusCodes.Status503ServiceUnavailable,
        BrokerUnavailableException => StatusCodes.Status503ServiceUnavailable,
        _ when IsDependencyOutage(exception) => StatusCodes.Status503ServiceUnavailable,
        TimeoutException => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>
    /// A store or broker that cannot be reached, or that refuses work for now (shutting down, starting, out of
    /// connections): the request may succeed in a moment, so it is a 503 with <c>Retry-After</c>, not a 500.
    /// Marten, EF Core and MassTransit wrap these, so the whole chain of inner exceptions is looked at.
    /// </summary>
    public static bool IsDependencyOutage(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                // SQLSTATE classes 08 (connection), 53 (insufficient resources), 57P (shutdown, cannot connect now).
                case PostgresException postgres when postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
                    || postgres.SqlState.StartsWith("53", StringComparison.Ordinal)
                    || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal):
                    return true;
                case PostgresException:
                    return false;
                // Not a server's answer: the connection could not be opened, broke, or the pool timed out waiting for one.
                case NpgsqlException:
                case SocketException:
                    return true;
            }
            if (current.GetType().FullName is "RabbitMQ.Client.Exceptions.BrokerUnreachableException"
                or "RabbitMQ.Client.Exceptions.AlreadyClosedException" or "MassTransit.RabbitMqConnectionException")
                return true;
        }
        return false;
    }
}

/// <summary>
/// This service refuses more work of a kind for the moment (a bounded queue is full): a <c>503</c> with
/// <c>Retry-After</c>, at once, rather than a request that waits until something times out.
/// </summary>
public sealed class ServiceBusyException(string message) : Exception(message);
