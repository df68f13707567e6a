using JasperFx;
using JasperFx.Events;
using Marten;
using Marten.Schema;
using Microsoft.Extensions.Options;
using Platform.Messaging.Calls;
using Platform.Messaging.Consumers;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;
using Platform.Messaging.Outbox;
using Platform.Messaging.Retention;
using Platform.ServiceDefaults;
using Weasel.Core;

namespace Platform.Messaging;

public static class MessagingServiceExtensions
{
    public const string Schema = "messaging";

    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MessagingOptions>().BindConfiguration(MessagingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<CallsOptions>().BindConfiguration(CallsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<IceServerOptions>().BindConfiguration(IceServerOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<BotCommandOptions>().BindConfiguration(BotCommandOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<IceServerOptions>, IceServerOptionsValidation>();

        builder.AddConversationLogFeedPolicy();
        // Nothing is left on a session: transaction-scoped locks only (the search index's one session lock is released, or
        // its connection closed); pooled connections are not reset on return.
        builder.AddPlatformPostgres(resetOnClose: false);
        builder.Services.AddMarten(ConfigureStore)
            .UseNpgsqlDataSource()
            .UseLightweightSessions();

        builder.Services.AddSingleton<SearchIndex>();
        builder.Services.AddHostedService(services => services.GetRequiredService<SearchIndex>());
        builder.Services.AddPlatformOutbox<MessagingOutboxStore>();
        builder.Services.AddSingleton<ConversationWriter>();
        builder.Services.AddSingleton<RetentionJob>();
        builder.Services.AddHostedService(services => services.GetRequiredService<RetentionJob>());
        builder.Services.AddSingleton<ScheduledMessageSender>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ScheduledMessageSender>());
        builder.Services.AddSingleton<CallSweep>();
        builder.Services.AddHostedService(services => services.GetRequiredService<CallSweep>());
        builder.Services.AddSingleton<FollowChanges>();
        builder.Services.AddHostedService(services => services.GetRequiredService<FollowChanges>());
        // Identity's relations (users, blocks, contacts, who may add whom): at Identity's internal address, Auth:MetadataAddress.
        builder.Services.AddHttpClient<UserRelations>((services, http) =>
        {
            var auth = services.GetRequiredService<IOptions<AuthOptions>>().Value;
            http.BaseAddress = new Uri((auth.MetadataAddress ?? auth.Issuer).TrimEnd('/') + "/");
            http.Timeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddSingleton<CommandDispatcher>();
        builder.Services.AddHostedService(services => services.GetRequiredService<CommandDispatcher>());
        builder.Services.AddSingleton<ReceiptPublisher>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ReceiptPublisher>());
        return builder;
    }

    /// <summary>
    /// The document store's configuration: schema, append mode, serialization and the documents with their duplicated
    /// fields and indexes. Shared with whatever else writes this schema (the benchmark's history seeding), so both
    /// write rows of the same shape.
    /// </summary>
    public static void ConfigureStore(StoreOptions options)
    {
        options.DatabaseSchemaName = Schema;
        options.Events.DatabaseSchemaName = Schema;
        options.Events.AppendMode = EventAppendMode.Quick;
        options.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase);
        options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;

        options.Schema.For<ConversationView>().DocumentAlias("conversation");
        options.Schema.For<Membership>().DocumentAlias("membership")
            .Duplicate(m => m.ConversationId).Duplicate(m => m.UserId);
        // History and the log page by keyset on (conversation, seq).
        options.Schema.For<MessageView>().DocumentAlias("message")
            .Duplicate(m => m.ConversationId).Duplicate(m => m.Seq)
            .UniqueIndex(UniqueIndexType.DuplicatedField, "mt_doc_message_uidx_conversation_seq", m => m.ConversationId, m => m.Seq);
        // Search has its own table, written by a trigger on this one (Features/SearchIndex.cs).
        // Threads: a root's replies by computed index on replyTo (an expression index covers rows stored before it).
        options.Schema.For<MessageView>().Index(m => m.ReplyTo!, index => index.Name = Threads.ReplyToIndex);
        options.Schema.For<ThreadFollow>().DocumentAlias("thread_follow").Duplicate(f => f.UserId);
        options.Schema.For<UntoldFollowChange>().DocumentAlias("untold_follow_change");
        options.Schema.For<InviteLink>().DocumentAlias("invite_link").Duplicate(l => l.ConversationId);
        // Scheduled messages: the senders claim due rows by due_at; a client message id is used once per sender and conversation.
        options.Schema.For<ScheduledMessage>().DocumentAlias("scheduled_message")
            .Duplicate(m => m.ConversationId).Duplicate(m => m.SenderId).Duplicate(m => m.DueAt!)
            .UniqueIndex(UniqueIndexType.Computed, "mt_doc_scheduled_message_uidx_client", m => m.ConversationId, m => m.SenderId, m => m.ClientMessageId);
        options.Schema.For<ClientMessageKey>().DocumentAlias("client_message_key");
        options.Schema.For<MediaDetails>().DocumentAlias("media_details");
        options.Schema.For<AttachmentUse>().DocumentAlias("attachment_use").Duplicate(u => u.MediaId);
        options.Schema.For<ConversationBan>().DocumentAlias("conversation_ban").Duplicate(b => b.ConversationId);
        options.Schema.For<SavedMessage>().DocumentAlias("saved_message").Duplicate(m => m.UserId).Duplicate(m => m.SavedAt);
        options.Schema.For<UserDirectoryEntry>().DocumentAlias("user_directory").Duplicate(u => u.Username);
        options.Schema.For<UserPrivacy>().DocumentAlias("user_privacy");
        options.Schema.For<IncomingWebhook>().DocumentAlias("incoming_webhook").Duplicate(w => w.ConversationId);
        options.Schema.For<BotCommand>().DocumentAlias("bot_command").Duplicate(c => c.BotId).Duplicate(c => c.Name);
        options.Schema.For<CommandInvocation>().DocumentAlias("command_invocation");
        options.Schema.For<UserBlock>().DocumentAlias("user_block").Duplicate(b => b.OwnerId).Duplicate(b => b.BlockedUserId);
        options.Schema.For<MessageReport>().DocumentAlias("message_report")
            .Duplicate(r => r.ConversationId).Duplicate(r => r.Status).Duplicate(r => r.MessageId);
        options.Schema.For<CallView>().DocumentAlias("call")
            .Duplicate(c => c.ConversationId).Duplicate(c => c.StartedSeq).Duplicate(c => c.State);
        options.Schema.For<OutboxEntry>().DocumentAlias("outbox")
            .Duplicate(o => o.ConversationId).Duplicate(o => o.Seq).Duplicate(o => o.CreatedAt)
            .UniqueIndex(UniqueIndexType.DuplicatedField, "mt_doc_outbox_uidx_conversation_seq", o => o.ConversationId, o => o.Seq);
    }

    public static void AddMessagingConsumers(this MassTransit.IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<UserDirectoryConsumer>();
        bus.AddConsumer<LinkPreviewConsumer>();
        bus.AddConsumer<MediaReadyConsumer>();
        bus.AddConsumer<UserErasureConsumer>();
        bus.AddConsumer<DeliveredReceiptsConsumer>();
    }

    public static WebApplication MapMessagingEndpoints(this WebApplication app)
    {
        var conversations = app.MapGroup("/api/v1/conversations").RequireAuthorization().WithTags("Conversations");
        conversations.MapCreateConversation();
        conversations.MapListConversations();
        conversations.MapJoinedConversations();
        conversations.MapGetConversation();
        conversations.MapUpdateConversation();
        conversations.MapMembers();
        conversations.MapModeration();
        conversations.MapRequests();
        conversations.MapReports();
        conversations.MapPins();
        conversations.MapThreads();
        conversations.MapCreateInviteLink();
        conversations.MapSendMessage();
        conversations.MapScheduledMessages();
        conversations.MapListMessages();
        conversations.MapEditMessage();
        conversations.MapDeleteMessage();
        conversations.MapReactions();
        conversations.MapReadLog();
        conversations.MapSeqAt();
        app.MapUserExport();
        conversations.MapReceipts();
        conversations.MapStartCall();
        conversations.MapCallHistory();
        conversations.MapIncomingWebhooks();
        conversations.MapConversationCommands();

        app.MapGroup("/api/v1/moderation/reports").RequireAuthorization().WithTags("Moderation").MapReportQueue();
        app.MapGroup("/api/v1/saved-messages").RequireAuthorization().WithTags("Saved messages").MapSavedMessages();
        app.MapGroup("/api/v1/invite-links").RequireAuthorization().WithTags("Invite links").MapInviteLinks();
        app.MapGroup("/api/v1/channels").RequireAuthorization().WithTags("Channels").MapChannelDirectory();
        app.MapGroup("/api/v1/threads").RequireAuthorization().WithTags("Threads").MapFollowedThreads();
        app.MapGroup("/api/v1/search").RequireAuthorization().WithTags("Search").MapSearch();
        app.MapGroup("/api/v1/incoming-webhooks").WithTags("Integrations").MapIncomingWebhookPosts();
        app.MapGroup("/api/v1/bots").RequireAuthorization().WithTags("Integrations").MapBotCommands();

        var calls = app.MapGroup("/api/v1/calls").RequireAuthorization().WithTags("Calls");
        calls.MapIceServers();
        calls.MapCallActions();

        app.MapConversationLogFeed();
        return app;
    }
}

/// <summary>Names every problem of the ICE configuration at start.</summary>
public sealed class IceServerOptionsValidation : IValidateOptions<IceServerOptions>
{
    public ValidateOptionsResult Validate(string? name, IceServerOptions options)
    {
        var problems = IceServerOptions.Problems(options).ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
