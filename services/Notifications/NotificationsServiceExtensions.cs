using JasperFx;
using Lib.Net.Http.WebPush;
using Marten;
using MassTransit;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Notifications.Consumers;
using Platform.Notifications.Domain;
using Platform.Notifications.Features;
using Platform.Notifications.Invites;
using Platform.Notifications.Push;
using Platform.Notifications.Webhooks;
using Platform.ServiceDefaults;

namespace Platform.Notifications;

public static class NotificationsServiceExtensions
{
    public const string Schema = "notifications";

    public static IHostApplicationBuilder AddNotifications(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<NotificationsOptions>().BindConfiguration(NotificationsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // Nothing is left on a session (transactions only): pooled connections are not reset on return.
        builder.AddPlatformPostgres(resetOnClose: false);
        builder.Services.AddMarten(options =>
            {
                options.DatabaseSchemaName = Schema;
                options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
                options.UseSystemTextJsonForSerialization(casing: Weasel.Core.Casing.CamelCase);
                options.Schema.For<Notification>().DocumentAlias("notification")
                    .Duplicate(n => n.UserId).Duplicate(n => n.CreatedAt).Duplicate(n => n.MessageId!).Index(n => n.ConversationId!);
                options.Schema.For<ProcessedEvent>().DocumentAlias("processed_event");
                options.Schema.For<ConversationInfo>().DocumentAlias("conversation").UseOptimisticConcurrency(true);
                options.Schema.For<MessageRef>().DocumentAlias("message_ref").UseOptimisticConcurrency(true);
                options.Schema.For<ReadCursor>().DocumentAlias("read_cursor");
                options.Schema.For<UserPresence>().DocumentAlias("user_presence");
                options.Schema.For<UserName>().DocumentAlias("user_name");
                options.Schema.For<Preferences>().DocumentAlias("preferences");
                options.Schema.For<PushSubscriptionDoc>().DocumentAlias("push_subscription").Duplicate(s => s.UserId).UniqueIndex(s => s.Endpoint);
                options.Schema.For<PendingPush>().DocumentAlias("pending_push").UseOptimisticConcurrency(true)
                    .Duplicate(p => p.UserId).Duplicate(p => p.DueAt);
                options.Schema.For<VapidKeys>().DocumentAlias("vapid_keys");
                options.Schema.For<BackfillCheckpoint>().DocumentAlias("backfill_checkpoint");
            })
            .UseNpgsqlDataSource()
            .UseLightweightSessions();

        builder.Services.AddSingleton<PushScheduler>();
        builder.Services.AddSingleton<LargeConversations>();
        builder.Services.AddSingleton<VapidKeyStore>();
        builder.Services.AddHttpClient("web-push").ConfigurePrimaryHttpMessageHandler(services =>
            WebPushSender.CreateHandler(services.GetRequiredService<IOptions<NotificationsOptions>>()));
        builder.Services.AddSingleton(services => new PushServiceClient(services.GetRequiredService<IHttpClientFactory>().CreateClient("web-push"))
        {
            // Retries are ours (with backoff, across restarts), not the library's in-process waits.
            AutoRetryAfter = false,
        });
        builder.Services.AddSingleton<IPushSender, WebPushSender>();
        builder.Services.AddHttpClient<ApnsSender>(http => http.Timeout = TimeSpan.FromSeconds(15));
        builder.Services.AddHttpClient<FcmSender>(http => http.Timeout = TimeSpan.FromSeconds(15));
        builder.Services.AddSingleton<IPushSender>(services => services.GetRequiredService<IOptions<NotificationsOptions>>().Value.Push.Apns.Enabled
            ? services.GetRequiredService<ApnsSender>() : new DisabledSender("apns"));
        builder.Services.AddSingleton<IPushSender>(services => services.GetRequiredService<IOptions<NotificationsOptions>>().Value.Push.Fcm.Enabled
            ? services.GetRequiredService<FcmSender>() : new DisabledSender("fcm"));
        builder.Services.AddHostedService<PushDispatcher>();
        builder.Services.AddHttpClient<ISmsSender, HttpSmsSender>(http => http.Timeout = TimeSpan.FromSeconds(15));
        builder.AddConversationLogBackfill<ConversationLogReplay>();
        builder.AddWebhooks();
        return builder;
    }

    private static void AddWebhooks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebhookOptions>().BindConfiguration(WebhookOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // Webhook secrets are stored protected; the key ring lives in PostgreSQL so every replica reads what another wrote.
        builder.Services.AddDataProtection().SetApplicationName("platform-notifications");
        builder.Services.AddOptions<KeyManagementOptions>().Configure<NpgsqlDataSource>((keys, dataSource) => keys.XmlRepository = new PostgresXmlRepository(dataSource));
        builder.Services.TryAddSingleton<IHostResolver, DnsHostResolver>();
        builder.Services.AddSingleton<WebhookStore>();
        builder.Services.AddSingleton<WebhookSecrets>();
        builder.Services.AddSingleton<WebhookSignal>();
        builder.Services.AddSingleton<WebhookQueue>();
        builder.Services.AddSingleton<WebhookSender>();
        builder.Services.AddHostedService<WebhookDispatcher>();
    }

    public static void AddNotificationsConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<ConversationEventConsumer, ConversationEventConsumerDefinition>();
        bus.AddConsumer<StateConsumer>();
        bus.AddConsumer<InviteConsumer>();
        bus.AddConsumer<PasswordResetConsumer>();
        bus.AddConsumer<VerificationCodeConsumer>();
        bus.AddConsumer<UserErasureConsumer>();
        bus.AddConsumer<WebhookOwnerConsumer>();
    }

    public static WebApplication MapNotificationsEndpoints(this WebApplication app)
    {
        var notifications = app.MapGroup("/api/v1/notifications").RequireAuthorization().WithTags("Notifications");
        notifications.MapFeed();
        notifications.MapPreferences();
        app.MapGroup("/api/v1/push-subscriptions").RequireAuthorization().WithTags("Push subscriptions").MapPushSubscriptions();
        app.MapGroup("/api/v1/webhooks").RequireAuthorization().WithTags("Webhooks").MapWebhooks();
        app.MapUserExport();
        return app;
    }

    /// <summary>A platform whose credentials are not configured: its subscriptions are accepted but not pushed to.</summary>
    private sealed class DisabledSender(string platform) : IPushSender
    {
        public string Platform => platform;

        public Task<PushResult> SendAsync(PushSubscriptionDoc subscription, PushPayload payload, CancellationToken cancellationToken) =>
            Task.FromResult<PushResult>(new PushResult.Failed($"{platform} is not configured (Notifications:Push:{char.ToUpperInvariant(platform[0])}{platform[1..]}:Enabled)."));
    }
}
