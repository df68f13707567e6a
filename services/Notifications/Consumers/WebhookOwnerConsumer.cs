using MassTransit;
using Platform.Contracts.Identity;
using Platform.Notifications.Webhooks;

namespace Platform.Notifications.Consumers;

/// <summary>
/// A webhook for every conversation is a platform admin's: when its owner stops being one (the role revoked, or the
/// account disabled), it stops too, and what it had queued is not sent (<see cref="WebhookStore.DisablePlatformWideOwnedByAsync"/>).
/// Idempotent: a webhook already disabled stays as it is.
/// </summary>
public sealed class WebhookOwnerConsumer(WebhookStore webhooks, ILogger<WebhookOwnerConsumer> logger)
    : IConsumer<UserRolesChanged>, IConsumer<UserDisabled>
{
    public const string NotAdminReason = "Its owner is no longer a platform admin.";
    public const string DisabledReason = "Its owner's account was disabled.";

    public Task Consume(ConsumeContext<UserRolesChanged> context) =>
        context.Message.Roles.Contains("admin")
            ? webhooks.ClearOwnerRevocationAsync(context.Message.UserId, context.Message.ChangedAt, context.CancellationToken)
            : StopAsync(context.Message.UserId, NotAdminReason, context.Message.ChangedAt, context.CancellationToken);

    public Task Consume(ConsumeContext<UserDisabled> context) =>
        StopAsync(context.Message.UserId, DisabledReason, context.Message.DisabledAt, context.CancellationToken);

    private async Task StopAsync(Guid ownerId, string reason, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var stopped = await webhooks.DisablePlatformWideOwnedByAsync(ownerId, reason, at, cancellationToken);
        if (stopped > 0)
            logger.LogInformation("Disabled {Count} webhooks for every conversation of {OwnerId}: {Reason}", stopped, ownerId, reason);
    }
}
