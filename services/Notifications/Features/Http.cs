using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Platform.Notifications.Features;

public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

public static class Http
{
    public static ProblemHttpResult Invalid(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Invalid request");
}
