using Marten;
using Platform.Notifications.Domain;
using Platform.ServiceDefaults;

namespace Platform.Notifications.Features;

/// <summary>
/// <c>GET /internal/v1/export</c>: Notifications' part of the caller's data export (Identity asks with the user's own
/// token; not routed by the Gateway): notification preferences and push subscriptions (without their keys).
/// </summary>
public static class UserExport
{
    public static void MapUserExport(this WebApplication app) =>
        app.MapGet("/internal/v1/export", ExportAsync).RequireAuthorization().ExcludeFromDescription();

    private static async Task<IResult> ExportAsync(HttpContext http, IQuerySession session, CancellationToken cancellationToken)
    {
        var me = http.User.UserId();
        var preferences = await session.LoadAsync<Preferences>(me, cancellationToken);
        var subscriptions = await session.Query<PushSubscriptionDoc>().Where(s => s.UserId == me).ToListAsync(cancellationToken);
        return TypedResults.Ok(new
        {
            preferences = new { @default = preferences?.Default, conversations = preferences?.Conversations ?? [], quietHours = preferences?.QuietHours },
            pushSubscriptions = subscriptions.Select(s => new { s.Id, s.Platform, s.Endpoint, s.CreatedAt }),
        });
    }
}
