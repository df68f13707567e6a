using System.Threading.RateLimiting;
using JasperFx;
using Marten;
using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Media.Consumers;
using Platform.Media.Domain;
using Platform.Media.Features;
using Platform.Media.LinkPreviews;
using Platform.Media.Processing;
using Platform.Media.Storage;
using Platform.ServiceDefaults;
using Weasel.Core;

namespace Platform.Media;

public static class MediaServiceExtensions
{
    public const string Schema = "media";

    public static IHostApplicationBuilder AddMedia(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MediaOptions>().BindConfiguration(MediaOptions.Section).ValidateDataAnnotations()
            .Validate(MediaOptions.HasValidKey, "Media:SigningKey must be a base64 key of at least 32 bytes (e.g. `openssl rand -base64 32`); ./platform run makes one per machine.")
            .ValidateOnStart();
        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section)
            .Validate(o => o.Provider is "filesystem" or "s3", "Media:Storage:Provider is filesystem or s3.")
            .ValidateOnStart();
        builder.Services.AddOptions<LinkPreviewOptions>().BindConfiguration(LinkPreviewOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => o.AllowedEndpoints.All(e => System.Net.IPEndPoint.TryParse(e, out var p) && p.Port > 0), "LinkPreviews:AllowedEndpoints holds ip:port entries.")
            .ValidateOnStart();

        builder.AddPlatformPostgres();
        builder.Services.AddMarten(options =>
            {
                options.DatabaseSchemaName = Schema;
                options.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase);
                options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
                options.Schema.For<MediaItem>().DocumentAlias("media")
                    .Duplicate(m => m.OwnerId).Duplicate(m => m.OriginalSha256).Duplicate(m => m.BlobKey);
                options.Schema.For<AttachmentLink>().DocumentAlias("attachment").Duplicate(l => l.MediaId).Duplicate(l => l.MessageId);
                options.Schema.For<ConversationMember>().DocumentAlias("member");
                options.Schema.For<DeletedMessage>().DocumentAlias("deleted_message");
                options.Schema.For<UploadSession>().DocumentAlias("upload").Duplicate(u => u.ExpiresAt);
                options.Schema.For<LinkPreview>().DocumentAlias("link_preview");
                options.Schema.For<BackfillCheckpoint>().DocumentAlias("backfill_checkpoint");
                options.Schema.For<OutboxEntry>().DocumentAlias("outbox").Duplicate(e => e.CreatedAt);
            })
            .UseNpgsqlDataSource()
            .UseLightweightSessions();

        builder.Services.AddSingleton<IBlobStore>(services =>
        {
            var storage = services.GetRequiredService<IOptions<StorageOptions>>().Value;
            return storage.Provider == "s3" ? S3BlobStore.Create(storage) : new FileSystemBlobStore(storage.Path);
        });
        builder.Services.AddSingleton(services => services.GetRequiredService<IOptions<MediaOptions>>().Value);
        builder.Services.AddSingleton<BlobLocks>();
        builder.Services.AddSingleton<ImageProcessor>();
        builder.Services.AddSingleton<FfmpegProcessor>();
        builder.Services.AddScoped<MediaIngest>();
        builder.Services.AddSingleton<MediaAccess>();
        builder.Services.AddSingleton<UrlSigner>();
        builder.Services.AddSingleton<IHostResolver, DnsHostResolver>();
        builder.Services.AddSingleton<SafeFetcher>();
        builder.Services.AddSingleton<FetchBudget>();
        builder.Services.AddSingleton<LinkPreviewService>();
        builder.Services.AddScoped<LinkPreviewPublisher>();
        builder.Services.AddHostedService<UploadSweeper>();
        builder.Services.AddPlatformOutbox<MediaOutboxStore>();
        builder.AddConversationLogBackfill<ConversationLogReplay>();

        // Per user: fetching pages for anyone who asks, and storing files, are the costly things this service does.
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(UploadPolicy, context => PerUser(context, context.RequestServices.GetRequiredService<IOptions<MediaOptions>>().Value.UploadsPerMinute));
            limiter.AddPolicy(LinkPreviewPolicy, context => PerUser(context, context.RequestServices.GetRequiredService<IOptions<LinkPreviewOptions>>().Value.RequestsPerMinute));
        });
        return builder;
    }

    public const string UploadPolicy = "uploads";
    public const string LinkPreviewPolicy = "link-previews";

    private static RateLimitPartition<string> PerUser(HttpContext context, int perMinute) =>
        RateLimitPartition.GetFixedWindowLimiter(context.User.FindFirst("sub")?.Value ?? "anonymous",
            _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });

    public static void AddMediaConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<ConversationEventConsumer, ConversationEventConsumerDefinition>();
        bus.AddConsumer<UserErasureConsumer>();
    }

    public static WebApplication MapMediaEndpoints(this WebApplication app)
    {
        app.UseRateLimiter();
        var media = app.MapGroup(MediaUrls.Base).RequireAuthorization().WithTags("Media");
        var signed = app.MapGroup(MediaUrls.Base).WithTags("Media");
        media.MapUpload();
        media.MapResumableUploads();
        media.MapDownload(signed);
        app.MapUserExport();
        app.MapGroup("/api/v1/link-previews").RequireAuthorization().RequireRateLimiting(LinkPreviewPolicy).WithTags("Link previews").MapLinkPreviews();
        return app;
    }
}

/// <summary>Discards resumable uploads left unfinished past their lifetime, with their staged bytes.</summary>
public sealed class UploadSweeper(IDocumentStore store, IOptions<MediaOptions> options, TimeProvider time, ILogger<UploadSweeper> logger)
    : PeriodicJob
{
    protected override ILogger Logger => logger;

    protected override TimeProvider Clock => time;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(1);

    protected override async Task RunPassAsync(CancellationToken cancellationToken)
    {
        await using var session = store.LightweightSession();
        var now = time.GetUtcNow();
        var expired = await session.Query<UploadSession>().Where(u => u.ExpiresAt < now).Select(u => u.Id).ToListAsync(cancellationToken);
        foreach (var id in expired)
            await ResumableUpload.DiscardAsync(session, options.Value, id, cancellationToken);
    }
}
