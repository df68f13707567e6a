using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Platform.Notifications.Webhooks;

/// <summary>
/// Sends queued deliveries: several workers, each claiming the head of one (webhook, conversation) queue at a time
/// (<see cref="WebhookStore.ClaimAsync"/>), so a conversation's events reach a webhook in seq order and a failing one
/// holds the later ones. A failure is retried with exponential backoff and jitter until <see cref="WebhookOptions.RetryFor"/>
/// has passed since it was queued; then it is marked failed and the webhook disabled (with what it still had queued).
/// Delivered at least once: a crash or a lost answer after the receiver got it means it is sent again, with the same
/// <c>Platform-Event-Id</c>.
/// </summary>
public sealed class WebhookDispatcher(
    WebhookStore store, WebhookSender sender, WebhookSecrets secrets, WebhookSignal signal, IOptions<WebhookOptions> options, TimeProvider time,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Value.Concurrency).Select(_ => WorkAsync(stoppingToken)).Append(MaintainAsync(stoppingToken)));

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var worked = false;
            try
            {
                worked = await DeliverOneAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Delivering a webhook failed; retrying");
            }
            if (worked)
                continue;
            try
            {
                await signal.WaitAsync(options.Value.SweepInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Sends one due delivery, if there is one; false when none was due.</summary>
    public async Task<bool> DeliverOneAsync(CancellationToken cancellationToken)
    {
        await store.EnsureSchemaAsync(cancellationToken);
        await using var connection = await store.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var now = time.GetUtcNow();
        var claimed = await WebhookStore.ClaimAsync(connection, transaction, now, options.Value.OrderWait, cancellationToken);
        if (claimed is null)
            return false;
        var (delivery, body) = claimed.Value;

        var webhook = await store.GetAsync(delivery.WebhookId, cancellationToken);
        var attempts = delivery.Attempts + 1;
        if (webhook is null || webhook.DisabledAt is not null)
        {
            await WebhookStore.RecordAsync(connection, transaction, delivery.Id, DeliveryStatus.Failed, delivery.Attempts, null, "The webhook is disabled.", now, null, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return true;
        }

        List<string> keys;
        try
        {
            keys = [secrets.Unprotect(webhook.ProtectedSecret)];
            if (webhook.ProtectedPreviousSecret is { } previous && webhook.PreviousSecretUntil > now)
                keys.Add(secrets.Unprotect(previous));
        }
        catch (CryptographicException)
        {
            // The key ring that protected the secret is gone (a lost data_protection_keys table): nothing can be signed.
            const string reason = "The webhook's secret can no longer be read; register it again.";
            await WebhookStore.RecordAsync(connection, transaction, delivery.Id, DeliveryStatus.Failed, delivery.Attempts, null, reason, now, null, cancellationToken);
            await WebhookStore.DisableAsync(connection, transaction, webhook.Id, reason, now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            logger.LogError("Webhook {WebhookId} disabled: its secret cannot be unprotected", webhook.Id);
            return true;
        }
        var signature = WebhookSecrets.Sign(now.ToUnixTimeSeconds(), body, keys);
        var outcome = await sender.SendAsync(webhook.Url, delivery.EventId, body, signature, cancellationToken);
        var at = time.GetUtcNow();
        if (outcome.Delivered)
        {
            await WebhookStore.RecordAsync(connection, transaction, delivery.Id, DeliveryStatus.Delivered, attempts, outcome.StatusCode, null, at, null, cancellationToken);
            NotificationMetrics.WebhookAttempted("delivered");
        }
        else if (at - delivery.CreatedAt >= options.Value.RetryFor)
        {
            await WebhookStore.RecordAsync(connection, transaction, delivery.Id, DeliveryStatus.Failed, attempts, outcome.StatusCode, outcome.Error, at, null, cancellationToken);
            await WebhookStore.DisableAsync(connection, transaction, webhook.Id,
                $"Delivery of event {delivery.EventId} failed for {options.Value.RetryFor}: {outcome.Error}", at, cancellationToken);
            NotificationMetrics.WebhookAttempted("failed");
            logger.LogWarning("Webhook {WebhookId} disabled: event {EventId} could not be delivered for {RetryFor} ({Error})",
                webhook.Id, delivery.EventId, options.Value.RetryFor, outcome.Error);
        }
        else
        {
            var next = at + Backoff(attempts);
            await WebhookStore.RecordAsync(connection, transaction, delivery.Id, DeliveryStatus.Pending, attempts, outcome.StatusCode, outcome.Error, at, next, cancellationToken);
            await WebhookStore.HoldBehindAsync(connection, transaction, delivery, next, cancellationToken);
            NotificationMetrics.WebhookAttempted("retry");
            logger.LogInformation("Webhook {WebhookId}: event {EventId} not delivered (attempt {Attempt}: {Error}); next attempt at {Next}",
                webhook.Id, delivery.EventId, attempts, outcome.Error, next);
        }
        await transaction.CommitAsync(CancellationToken.None);
        return true;
    }

    /// <summary>Exponential (the initial backoff doubled per failure, capped), with "equal jitter": half fixed, half random.</summary>
    public TimeSpan Backoff(int attempts)
    {
        var o = options.Value;
        var full = TimeSpan.FromTicks((long)Math.Min(o.MaxBackoff.Ticks, o.InitialBackoff.Ticks * Math.Pow(2, Math.Min(attempts - 1, 40))));
        return full / 2 + full / 2 * Random.Shared.NextDouble();
    }

    private async Task MaintainAsync(CancellationToken stoppingToken)
    {
        var lastPrune = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = time.GetUtcNow();
                NotificationMetrics.WebhookQueueAge(await store.OldestPendingAgeAsync(now, stoppingToken));
                if (now - lastPrune > TimeSpan.FromMinutes(10))
                {
                    await store.PruneAsync(now - options.Value.LogRetention, stoppingToken);
                    lastPrune = now;
                }
                await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "Webhook queue maintenance failed; retrying");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
