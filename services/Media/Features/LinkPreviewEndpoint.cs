using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Media.LinkPreviews;
using Platform.ServiceDefaults;

namespace Platform.Media.Features;

public sealed record LinkPreviewDto(string Url, string? FinalUrl, string? Title, string? Description, string? ImageUrl, string? SiteName, string? Type, DateTimeOffset FetchedAt);

public static class LinkPreviewEndpoint
{
    public static void MapLinkPreviews(this RouteGroupBuilder group) =>
        group.MapGet("/", Handle).WithName("LinkPreview");

    private static async Task<Results<Ok<LinkPreviewDto>, ProblemHttpResult>> Handle(
        string? url, LinkPreviewService previews, HttpContext context, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(url))
            return Http.Problem(StatusCodes.Status400BadRequest, "Invalid URL", "Give the page as ?url=.");
        try
        {
            var p = await previews.GetAsync(url, context.User.UserId(), cancellationToken);
            return TypedResults.Ok(new LinkPreviewDto(p.Url, p.FinalUrl, p.Title, p.Description, p.ImageUrl, p.SiteName, p.Type, p.FetchedAt));
        }
        catch (PreviewFailedException failed)
        {
            if (failed.RetryAfter is { } wait)
                RetryAfter.Set(context.Response, wait);
            return Http.Problem(failed.Status, failed.Title, failed.Message);
        }
    }
}
