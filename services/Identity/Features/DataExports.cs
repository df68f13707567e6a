using System.IO.Compression;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using Platform.Identity.Data;

namespace Platform.Identity.Features;

public sealed record ExportCreated(Guid Id);

/// <summary>An export: <c>pending</c>, <c>ready</c> (with <see cref="DownloadUrl"/> until <see cref="ExpiresAt"/>) or <c>failed</c>.</summary>
public sealed record ExportView(Guid Id, string Status, string? DownloadUrl, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

/// <summary>
/// The user's data export: <c>POST /api/v1/users/me/exports</c> → 202 <c>{ id }</c> (at most one pending per user, rate
/// limited), <c>GET /api/v1/users/me/exports/{id}</c> → its status, and <c>GET .../{id}/archive</c> → the ZIP, only to its
/// owner. <see cref="DataExportBuilder"/> builds the archive in the background: Identity's own part, then each service's,
/// asked with the user's own access token (as Messaging asks Identity's relations), so a service answers only about that
/// user. Kept in <c>identity.data_exports</c> for <see cref="IdentityServiceOptions.ExportOptions.Lifetime"/>.
/// </summary>
public static class DataExports
{
    public const string RateLimitPolicy = "exports";
    public const string Pending = "pending";
    public const string Ready = "ready";
    public const string Failed = "failed";

    /// <summary>A pending export older than this lost its builder (a restart took the job and the token with it).</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(20);

    public static RouteGroupBuilder MapDataExports(this RouteGroupBuilder users)
    {
        users.MapPost("/me/exports", CreateAsync).RequireRateLimiting(RateLimitPolicy).ProducesProblem(StatusCodes.Status429TooManyRequests);
        users.MapGet("/me/exports/{id:guid}", GetAsync);
        users.MapGet("/me/exports/{id:guid}/archive", DownloadAsync).Produces(StatusCodes.Status200OK, contentType: "application/zip")
            .Produces(StatusCodes.Status404NotFound);
        return users;
    }

    internal sealed record Row(Guid Id, Guid UserId, string Status, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

    private static async Task<Results<Accepted<ExportCreated>, ProblemHttpResult>> CreateAsync(
        HttpContext http, ClaimsPrincipal principal, UserManager<User> users, IdentityDb db, DataExportQueue queue, TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (await Me.FindAsync(principal, users) is not { } user)
            return Me.NoAccount();
        var now = time.GetUtcNow();
        await ExpireStaleAsync(db, now, cancellationToken);
        if (await PendingOfAsync(db, user.Id, cancellationToken) is { } pending)
            return Busy(pending);
        var id = Guid.CreateVersion7(now);
        var inserted = await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO identity.data_exports ("Id", "UserId", "Status", "CreatedAt") VALUES ({id}, {user.Id}, {Pending}, {now})
            ON CONFLICT DO NOTHING
            """, cancellationToken);
        if (inserted == 0 && await PendingOfAsync(db, user.Id, cancellationToken) is { } raced)
            return Busy(raced);
        var token = AuthenticationHeaderValue.TryParse(http.Request.Headers.Authorization, out var bearer) ? bearer.Parameter ?? "" : "";
        queue.Enqueue(new DataExportJob(id, user.Id, token));
        return TypedResults.Accepted($"/api/v1/users/me/exports/{id}", new ExportCreated(id));
    }

    private static async Task<Results<Ok<ExportView>, NotFound>> GetAsync(
        Guid id, HttpContext http, ClaimsPrincipal principal, IdentityDb db, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await ExpireStaleAsync(db, now, cancellationToken);
        if (principal.UserId() is not { } me || await FindAsync(db, id, me, now, cancellationToken) is not { } row)
            return TypedResults.NotFound();
        var url = row.Status == Ready ? $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}/api/v1/users/me/exports/{id}/archive" : null;
        return TypedResults.Ok(new ExportView(row.Id, row.Status, url, row.CreatedAt, row.ExpiresAt));
    }

    private static async Task<IResult> DownloadAsync(Guid id, ClaimsPrincipal principal, IdentityDb db, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (principal.UserId() is not { } me)
            return TypedResults.NotFound();
        var archive = await db.Database.SqlQuery<byte[]>($"""
            SELECT "Archive" AS "Value" FROM identity.data_exports
            WHERE "Id" = {id} AND "UserId" = {me} AND "Status" = {Ready} AND "ExpiresAt" > {now} AND "Archive" IS NOT NULL
            """).ToListAsync(cancellationToken);
        return archive.Count == 1
            ? TypedResults.File(archive[0], "application/zip", $"export-{id:N}.zip")
            : TypedResults.NotFound();
    }

    /// <summary>The export if it is the user's and not expired (another user's is not found, whatever it is).</summary>
    private static async Task<Row?> FindAsync(IdentityDb db, Guid id, Guid userId, DateTimeOffset now, CancellationToken cancellationToken) =>
        (await db.Database.SqlQuery<Row>($"""
            SELECT "Id", "UserId", "Status", "CreatedAt", "ExpiresAt" FROM identity.data_exports
            WHERE "Id" = {id} AND "UserId" = {userId} AND ("ExpiresAt" IS NULL OR "ExpiresAt" > {now})
            """).ToListAsync(cancellationToken)).SingleOrDefault();

    private static async Task<Guid?> PendingOfAsync(IdentityDb db, Guid userId, CancellationToken cancellationToken) =>
        (await db.Database.SqlQuery<Guid>($"""
            SELECT "Id" AS "Value" FROM identity.data_exports WHERE "UserId" = {userId} AND "Status" = {Pending}
            """).ToListAsync(cancellationToken)).Cast<Guid?>().SingleOrDefault();

    private static ProblemHttpResult Busy(Guid pending) => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict, title: "Export in progress",
        detail: "An export of this account is being prepared; ask for another once it is ready.",
        extensions: new Dictionary<string, object?> { ["id"] = pending });

    internal static Task ExpireStaleAsync(IdentityDb db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var stale = now - StaleAfter;
        return db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE identity.data_exports SET "Status" = {Failed}, "Error" = 'interrupted', "CompletedAt" = {now}
            WHERE "Status" = {Pending} AND "CreatedAt" < {stale}
            """, cancellationToken);
    }
}

/// <summary>An export to build, with the access token of the request that asked for it (kept only in memory).</summary>
public sealed record DataExportJob(Guid Id, Guid UserId, string AccessToken);

public sealed class DataExportQueue
{
    private readonly Channel<DataExportJob> _jobs = Channel.CreateUnbounded<DataExportJob>();

    public void Enqueue(DataExportJob job) => _jobs.Writer.TryWrite(job);

    internal ChannelReader<DataExportJob> Reader => _jobs.Reader;
}

/// <summary>
/// Builds each export's ZIP: <c>manifest.json</c>; <c>identity/</c> profile, contacts, blocks, privacy and sessions;
/// <c>messaging.json</c> (the user's own messages with conversation ids and times, reactions, memberships, saved
/// messages), <c>notifications.json</c> (preferences, push subscriptions), <c>presence.json</c> (status), and
/// <c>media/files.json</c> with the user's uploaded files under <c>media/files/</c>. Expired archives are deleted.
/// </summary>
public sealed class DataExportBuilder(
    DataExportQueue queue,
    IServiceScopeFactory scopes,
    IHttpClientFactory clients,
    IOptions<IdentityServiceOptions> options,
    TimeProvider time,
    ILogger<DataExportBuilder> logger) : BackgroundService
{
    public const string HttpClientName = "data-export";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var nextSweep = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            wait.CancelAfter(TimeSpan.FromMinutes(5));
            DataExportJob? job = null;
            try
            {
                job = await queue.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
            }
            try
            {
                if (job is not null)
                    await BuildAsync(job, stoppingToken);
                if (time.GetUtcNow() > nextSweep)
                {
                    await SweepAsync(stoppingToken);
                    nextSweep = time.GetUtcNow().AddMinutes(30);
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(exception, "Data export work failed");
            }
        }
    }

    public async Task BuildAsync(DataExportJob job, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDb>();
        byte[] archive;
        try
        {
            archive = await ArchiveAsync(scope.ServiceProvider, db, job, cancellationToken);
            if (archive.LongLength > options.Value.Export.MaxArchiveBytes)
                throw new InvalidOperationException($"The archive has {archive.LongLength} bytes, more than Identity:Export:MaxArchiveBytes.");
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Data export {ExportId} of user {UserId} failed", job.Id, job.UserId);
            var failedAt = time.GetUtcNow();
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE identity.data_exports SET "Status" = {DataExports.Failed}, "Error" = {exception.GetType().Name}, "CompletedAt" = {failedAt}
                WHERE "Id" = {job.Id} AND "Status" = {DataExports.Pending}
                """, cancellationToken);
            return;
        }
        var now = time.GetUtcNow();
        var expires = now + options.Value.Export.Lifetime;
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE identity.data_exports SET "Status" = {DataExports.Ready}, "Archive" = {archive}, "CompletedAt" = {now}, "ExpiresAt" = {expires}
            WHERE "Id" = {job.Id} AND "Status" = {DataExports.Pending}
            """, cancellationToken);
        logger.LogInformation("Data export {ExportId} of user {UserId} is ready ({Bytes} bytes)", job.Id, job.UserId, archive.Length);
    }

    private async Task<byte[]> ArchiveAsync(IServiceProvider services, IdentityDb db, DataExportJob job, CancellationToken cancellationToken)
    {
        var userId = job.UserId;
        var user = await db.Users.AsNoTracking().SingleAsync(u => u.Id == userId && u.DisabledAt == null, cancellationToken);
        var roles = await services.GetRequiredService<UserManager<User>>().GetRolesAsync(user);
        var contacts = await (from c in db.Contacts.AsNoTracking()
                              join u in db.Users.AsNoTracking() on c.ContactUserId equals u.Id
                              where c.OwnerId == userId
                              select new { userId = u.Id, username = u.UserName, displayName = u.DisplayName, c.Source, c.AddedAt }).ToListAsync(cancellationToken);
        var blocks = await db.Blocks.AsNoTracking().Where(b => b.OwnerId == userId).Select(b => new { userId = b.BlockedUserId, blockedAt = b.CreatedAt })
            .ToListAsync(cancellationToken);
        var privacy = await db.PrivacySettings.AsNoTracking().SingleOrDefaultAsync(p => p.UserId == userId, cancellationToken) ?? PrivacySetting.Default(userId);
        var sessions = new List<object>();
        var authorizations = services.GetRequiredService<IOpenIddictAuthorizationManager>();
        await foreach (var authorization in authorizations.FindBySubjectAsync(userId.ToString(), cancellationToken))
            sessions.Add(new
            {
                id = await authorizations.GetIdAsync(authorization, cancellationToken),
                status = await authorizations.GetStatusAsync(authorization, cancellationToken),
                createdAt = await authorizations.GetCreationDateAsync(authorization, cancellationToken),
            });

        var parts = new Dictionary<string, string>();
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            Write(zip, "identity/profile.json", MyProfile.From(user, roles));
            Write(zip, "identity/contacts.json", contacts);
            Write(zip, "identity/blocks.json", blocks);
            Write(zip, "identity/privacy.json", new { privacy.LastSeen, privacy.ReadReceipts, privacy.WhoCanAdd });
            Write(zip, "identity/sessions.json", sessions);
            parts["identity"] = "included";

            var http = clients.CreateClient(HttpClientName);
            foreach (var service in new[] { "messaging", "notifications", "presence", "media" })
            {
                if (!options.Value.Export.Services.TryGetValue(service, out var address) || string.IsNullOrWhiteSpace(address))
                {
                    parts[service] = "not configured";
                    continue;
                }
                var baseUrl = new Uri(address.TrimEnd('/') + "/");
                var part = await GetAsync(http, new Uri(baseUrl, "internal/v1/export"), job.AccessToken, cancellationToken);
                if (service != "media")
                {
                    await WriteRawAsync(zip, $"{service}.json", part, cancellationToken);
                }
                else
                {
                    await WriteRawAsync(zip, "media/files.json", part, cancellationToken);
                    var files = JsonDocument.Parse(part).RootElement.GetProperty("items");
                    foreach (var file in files.EnumerateArray())
                    {
                        var id = file.GetProperty("id").GetGuid();
                        var name = SafeName(file.TryGetProperty("fileName", out var fileName) ? fileName.GetString() : null);
                        var bytes = await GetAsync(http, new Uri(baseUrl, $"internal/v1/export/files/{id}"), job.AccessToken, cancellationToken);
                        var entry = zip.CreateEntry($"media/files/{id:N}{(name is null ? "" : "-" + name)}", CompressionLevel.Fastest);
                        await using var stream = await entry.OpenAsync(cancellationToken);
                        await stream.WriteAsync(bytes, cancellationToken);
                    }
                }
                parts[service] = "included";
            }
            Write(zip, "manifest.json", new { exportId = job.Id, userId, createdAt = time.GetUtcNow(), parts });
        }
        return buffer.ToArray();
    }

    private static async Task<byte[]> GetAsync(HttpClient http, Uri url, string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    private static void Write(ZipArchive zip, string name, object content)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.Fastest);
        using var stream = entry.Open();
        JsonSerializer.Serialize(stream, content, Json);
    }

    private static async Task WriteRawAsync(ZipArchive zip, string name, byte[] json, CancellationToken cancellationToken)
    {
        var entry = zip.CreateEntry(name, CompressionLevel.Fastest);
        await using var stream = await entry.OpenAsync(cancellationToken);
        await stream.WriteAsync(json, cancellationToken);
    }

    /// <summary>A file name as an archive entry: no folders, no control characters.</summary>
    private static string? SafeName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
            return null;
        var safe = new string(Path.GetFileName(name.Replace('\\', '/')).Where(c => !char.IsControl(c)).ToArray()).Trim();
        return safe.Length == 0 || safe is "." or ".." ? null : safe.Length > 100 ? safe[..100] : safe;
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDb>();
        var now = time.GetUtcNow();
        await DataExports.ExpireStaleAsync(db, now, cancellationToken);
        var deleted = await db.Database.ExecuteSqlInterpolatedAsync($"""DELETE FROM identity.data_exports WHERE "ExpiresAt" < {now} OR ("Status" = 'failed' AND "CompletedAt" < {now.AddDays(-1)})""", cancellationToken);
        if (deleted > 0)
            logger.LogInformation("Deleted {Count} expired data exports", deleted);
    }
}
