using System.Net;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Messaging.Domain;
using Platform.Messaging.Features;
using Platform.Testing;

namespace Platform.Messaging.Tests;

/// <summary>Full-text message search: ranked, highlighted, filtered, and only over what the caller may read now.</summary>
public sealed class SearchTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private static string Path(string q, string extra = "") => $"/api/v1/search/messages?q={Uri.EscapeDataString(q)}{extra}";

    private static List<JsonElement> Items(JsonElement page) => page.GetProperty("items").EnumerateArray().ToList();

    private static List<Guid> Ids(JsonElement page) => Items(page).Select(i => i.GetProperty("message").GetProperty("id").GetGuid()).ToList();

    private static Guid Id(JsonElement message) => message.GetProperty("id").GetGuid();

    [Fact]
    public async Task Search_FindsStemsAndExactWords_BestMatchFirst_WithHighlightedFragments()
    {
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var word = "zephyr" + Guid.NewGuid().ToString("N")[..6];
        var once = await alice.Send(group, $"The {word} arrives at noon, bring coats");
        var twice = await alice.Send(group, $"{word} {word}: the {word} is the windiest of all");
        var stemmed = await alice.Send(group, "We are planning the launches for Tuesday");
        await alice.Send(group, "nothing to see here");

        var page = await alice.Get(Path(word));
        Assert.Equal([Id(twice), Id(once)], Ids(page));
        Assert.True(page.GetProperty("next").ValueKind == JsonValueKind.Null);
        var hit = Items(page)[1];
        Assert.Equal(group, hit.GetProperty("conversationId").GetGuid());
        var fragment = hit.GetProperty("highlights").EnumerateArray().First();
        var text = fragment.GetProperty("text").GetString()!;
        var match = fragment.GetProperty("matches").EnumerateArray().Single();
        Assert.Equal(word, text.Substring(match.GetProperty("start").GetInt32(), match.GetProperty("length").GetInt32()));

        // english stems: "launch" and "plan" find "launches" and "planning"; simple keeps stop words searchable.
        Assert.Contains(Id(stemmed), Ids(await alice.Get(Path("launch plan"))));
        Assert.Contains(Id(once), Ids(await alice.Get(Path($"the {word}"))));
        // web-style syntax: a phrase, and a word excluded.
        Assert.Equal([Id(once)], Ids(await alice.Get(Path($"\"{word} arrives\""))));
        Assert.Equal([Id(twice)], Ids(await alice.Get(Path($"{word} -coats"))));
    }

    [Fact]
    public async Task Search_SeesOnlyConversationsTheCallerIsAMemberOfNow()
    {
        var alice = host.Client();
        var bob = host.Client();
        var carol = host.Client();
        var word = "quokka" + Guid.NewGuid().ToString("N")[..6];
        var shared = await alice.CreateGroup(bob.UserId, carol.UserId);
        var alicesOwn = await alice.CreateGroup(Guid.CreateVersion7());
        var inShared = await alice.Send(shared, $"{word} in the shared room");
        var inOwn = await alice.Send(alicesOwn, $"{word} in alice's room");

        Assert.Equal([Id(inShared), Id(inOwn)], Ids(await alice.Get(Path(word))).OrderBy(id => id == Id(inOwn)).ToList());
        Assert.Equal([Id(inShared)], Ids(await bob.Get(Path(word))));
        Assert.Empty(Ids(await host.Client().Get(Path(word))));
        // Naming a conversation one is not a member of reveals nothing: the same 404 as everywhere.
        Assert.Equal(HttpStatusCode.NotFound, (await bob.Http.GetAsync(Path(word, $"&conversationId={alicesOwn}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.Http.GetAsync(Path(word, $"&conversationId={Guid.CreateVersion7()}"))).StatusCode);

        // After leaving, the conversation is out of search.
        Assert.Equal(HttpStatusCode.NoContent, (await carol.Http.DeleteAsync($"/api/v1/conversations/{shared}/members/{carol.UserId}")).StatusCode);
        Assert.Empty(Ids(await carol.Get(Path(word))));
    }

    [Fact]
    public async Task Search_FiltersByConversationSenderAndTime()
    {
        var alice = host.Client();
        var bob = host.Client();
        var word = "narwhal" + Guid.NewGuid().ToString("N")[..6];
        var first = await alice.CreateGroup(bob.UserId);
        var second = await alice.CreateGroup(bob.UserId);
        var early = await alice.Send(first, $"{word} early");
        var middle = DateTimeOffset.Parse(early.GetProperty("createdAt").GetString()!).AddMilliseconds(1);
        host.Clock.Advance(TimeSpan.FromSeconds(1));
        var byBob = await bob.Send(first, $"{word} from bob");
        var elsewhere = await alice.Send(second, $"{word} elsewhere");

        Assert.Equal(3, Ids(await bob.Get(Path(word))).Count);
        Assert.Equal([Id(elsewhere)], Ids(await bob.Get(Path(word, $"&conversationId={second}"))));
        Assert.Equal([Id(byBob)], Ids(await bob.Get(Path(word, $"&senderId={bob.UserId}"))));
        Assert.Equal([Id(early)], Ids(await bob.Get(Path(word, $"&before={Uri.EscapeDataString(middle.ToString("O"))}"))));
        Assert.Equal(new[] { Id(byBob), Id(elsewhere) }.Order(),
            Ids(await bob.Get(Path(word, $"&after={Uri.EscapeDataString(middle.ToString("O"))}"))).Order());
        Assert.Equal([Id(byBob)], Ids(await bob.Get(Path(word, $"&after={Uri.EscapeDataString(middle.ToString("O"))}&conversationId={first}"))));
    }

    [Fact]
    public async Task Search_EditedAwayAndDeletedText_NeverMatches()
    {
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var word = "ocelot" + Guid.NewGuid().ToString("N")[..6];
        var other = "lynx" + Guid.NewGuid().ToString("N")[..6];
        var edited = await alice.Send(group, $"the {word} sleeps");
        var deleted = await alice.Send(group, $"the {word} hunts");
        Assert.Equal(2, Ids(await alice.Get(Path(word))).Count);

        await alice.Json200(await alice.Patch($"/api/v1/conversations/{group}/messages/{Id(edited)}", new { text = $"the {other} sleeps" }));
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{group}/messages/{Id(deleted)}")).StatusCode);

        Assert.Empty(Ids(await alice.Get(Path(word))));
        var found = Items(await alice.Get(Path(other)));
        Assert.Equal(Id(edited), found.Single().GetProperty("message").GetProperty("id").GetGuid());
        Assert.Equal($"the {other} sleeps", found[0].GetProperty("message").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Search_PagesByCursor_WithoutRepeatsOrGaps()
    {
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var word = "wombat" + Guid.NewGuid().ToString("N")[..6];
        var sent = new List<Guid>();
        for (var i = 0; i < 7; i++)
            sent.Add(Id(await alice.Send(group, string.Join(' ', Enumerable.Repeat(word, 1 + i % 3)) + $" number {i}")));

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await alice.Get(Path(word, "&limit=3" + (cursor is null ? "" : "&cursor=" + cursor)));
            seen.AddRange(Ids(page));
            cursor = page.GetProperty("next").GetString();
            pages++;
        }
        while (cursor is not null);
        Assert.Equal(3, pages);
        Assert.Equal(sent.Order(), seen.Order());
        Assert.Equal(seen.Distinct().Count(), seen.Count);
    }

    public static TheoryData<string, string> BadQueries => new()
    {
        { "no q", "/api/v1/search/messages" },
        { "blank q", "/api/v1/search/messages?q=%20%20" },
        { "q too long", "/api/v1/search/messages?q=" + new string('a', Search.MaxQueryLength + 1) },
        { "punctuation only", "/api/v1/search/messages?q=%21%21%3F" },
        { "bad cursor", "/api/v1/search/messages?q=hello&cursor=not-a-cursor" },
        { "cursor of another shape", "/api/v1/search/messages?q=hello&cursor=" + Convert.ToBase64String("1:2:3"u8.ToArray()) },
        { "bad time", "/api/v1/search/messages?q=hello&after=yesterday" },
        { "after not before before", "/api/v1/search/messages?q=hello&after=2026-01-02T00:00:00Z&before=2026-01-01T00:00:00Z" },
        { "bad sender", "/api/v1/search/messages?q=hello&senderId=bob" },
    };

    [Theory]
    [MemberData(nameof(BadQueries))]
    public async Task Search_BadQuery_Returns400ProblemDetails(string why, string path)
    {
        var response = await host.Client().Http.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{why}: {(int)response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Search_WithoutAToken_Returns401()
    {
        using var anonymous = host.Factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(Path("hello"))).StatusCode);
    }

    [Fact]
    public async Task SearchVector_IsStoredWithTheMessage_ReplacedByAnEdit_AndGoneWithADelete()
    {
        // The index is created in the background as Messaging starts: this test reads its table directly.
        Assert.True(await host.Factory.Services.GetRequiredService<SearchIndex>().WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None));
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var id = (await alice.Send(group, "the walrus sings")).GetProperty("id").GetGuid();
        async Task<string?> Vector()
        {
            await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"select vector::text from {MessagingServiceExtensions.Schema}.{SearchIndex.Table} where id = $1", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = id });
            return (string?)await command.ExecuteScalarAsync();
        }
        Assert.Contains("'walrus'", await Vector());
        await alice.Json200(await alice.Patch($"/api/v1/conversations/{group}/messages/{id}", new { text = "the seal hums" }));
        var edited = await Vector();
        Assert.Contains("'seal'", edited);
        Assert.DoesNotContain("walrus", edited);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.Http.DeleteAsync($"/api/v1/conversations/{group}/messages/{id}")).StatusCode);
        Assert.Null(await Vector());
    }

    [Fact]
    public async Task SearchQuery_UsesTheFullTextIndexes()
    {
        // A realistic shape: many conversations with long histories where the word is rare. (On a nearly empty table any
        // plan is cheap and the planner rightly reads the caller's few messages instead.)
        Assert.True(await host.Factory.Services.GetRequiredService<SearchIndex>().WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None));
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var word = "pangolin" + Guid.NewGuid().ToString("N")[..6];
        await alice.Send(group, $"the {word} message");
        var store = host.Factory.Services.GetRequiredService<IDocumentStore>();
        var words = new[] { "lunch", "deploy", "review", "coffee", "budget", "meeting", "release", "weekend", "ticket", "design" };
        var others = Enumerable.Range(0, 40).Select(_ => Guid.CreateVersion7()).ToList();
        await store.BulkInsertAsync(others.Select(c => Membership.Joined(c, alice.UserId, MemberRole.Member, 1, DateTimeOffset.UtcNow)).ToList());
        await store.BulkInsertAsync(Enumerable.Range(0, 20_000).Select(i => new MessageView
        {
            Id = Guid.CreateVersion7(), ConversationId = i % 4 == 0 ? group : others[i % others.Count], Seq = 1000 + i, SenderId = alice.UserId,
            ClientMessageId = $"bulk-{i}", Text = $"{words[i % 10]} {words[i * 7 % 10]} {words[i * 3 % 10]}", CreatedAt = DateTimeOffset.UtcNow,
        }).ToList());
        await using (var analyze = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString))
        {
            await analyze.OpenAsync();
            await using var analyzeCommand = new NpgsqlCommand(
                $"analyze {MessagingServiceExtensions.Schema}.{SearchIndex.Table}, {MessagingServiceExtensions.Schema}.mt_doc_membership", analyze);
            await analyzeCommand.ExecuteNonQueryAsync();
        }
        Assert.Single((await alice.Get($"/api/v1/search/messages?q={word}")).GetProperty("items").EnumerateArray());
        var (sql, parameters) = Search.BuildQuery(word, alice.UserId, null, null, null, null, (0.5f, Guid.CreateVersion7()), 21);

        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        var parts = sql.Split('?');
        Assert.Equal(parameters.Length + 1, parts.Length);
        // The search rows are narrow: 5,000 fit in a few pages, which a sequential scan reads as cheaply here. Whether the
        // index serves the query is what matters (at a million rows the planner picks it by cost; see BENCHMARKS.md).
        await using (var setting = new NpgsqlCommand("set enable_seqscan = off", connection))
            await setting.ExecuteNonQueryAsync();
        await using var command = new NpgsqlCommand { Connection = connection };
        var text = new System.Text.StringBuilder("explain ").Append(parts[0]);
        for (var i = 0; i < parameters.Length; i++)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameters[i] });
            text.Append('$').Append(i + 1).Append(parts[i + 1]);
        }
        command.CommandText = text.ToString();
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                plan.Add(reader.GetString(0));
        var joined = string.Join("\n", plan);
        Assert.True(joined.Contains(SearchIndex.VectorIndex), joined);
        Assert.DoesNotContain("Seq Scan on message_search", joined);
    }

    [Theory]
    [InlineData("'xc' <-> 'xd'", "'xc' <-> 'xd'", "('xc xd')")]
    [InlineData("'deploy' <-> 'review' & 'meet'", "'deploying' <-> 'reviews' & 'meeting'", "('deploy review') | ('deploying reviews')")]
    [InlineData("'e-mail' <-> 'e' <-> 'mail' <-> 'review'", "'e-mail' <-> 'e' <-> 'mail' <-> 'review'", "('e-mail e' & 'e mail' & 'mail review')")]
    [InlineData("", "'the' <-> 'who'", "('the who')")]
    [InlineData("'o''neil' <-> 'said'", "'o''neil' <-> 'said'", "('o''neil said')")]
    [InlineData("'back\\\\slash' <-> 'x'", "'back\\\\slash' <-> 'x'", "('back\\\\slash x')")]
    // No pair to require from a reading: the plain plan answers.
    [InlineData("'deploy' <2> 'review'", "'deploying' <-> 'the' <-> 'reviews'", null)]
    [InlineData("'xc'", "'xc'", null)]
    [InlineData("'xc' <-> 'xd' | 'xe'", "'xc' <-> 'xd' | 'xe'", null)]
    [InlineData("'xc' <-> 'xd' & !'xe'", "'xc' <-> 'xd' & !'xe'", null)]
    [InlineData("'xc':* <-> 'xd'", "'xc':* <-> 'xd'", null)]
    [InlineData("", "", null)]
    public void PairFilter_RequiresEachReadingsAdjacentPairs_OnlyForPlainConjunctions(string english, string simple, string? expected) =>
        Assert.Equal(expected, Search.PairFilter(english, simple));

    [Fact]
    public async Task Search_Phrases_MatchAdjacentWordsOnly_ByEitherReading_WithTheWordPairs()
    {
        var index = host.Factory.Services.GetRequiredService<SearchIndex>();
        Assert.True(await index.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None));
        await Eventually.Returns(() => Task.FromResult(index.PairsReady), ready => ready, TimeSpan.FromSeconds(30), "the word pairs are stored");
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var tag = "tag" + Guid.NewGuid().ToString("N")[..8];
        var together = await alice.Send(group, $"{tag} the harbor beacon shines");
        var punctuated = await alice.Send(group, $"{tag} harbor, beacon!");
        var apart = await alice.Send(group, $"{tag} beacon by the harbor");
        var stemmed = await alice.Send(group, $"{tag} deploying reviews tonight");
        var stopWord = await alice.Send(group, $"{tag} a beacon of hope");

        // Adjacent words (punctuation between them is no word), not the same words apart.
        Assert.Equal(new[] { Id(together), Id(punctuated) }.Order(), Ids(await alice.Get(Path($"{tag} \"harbor beacon\""))).Order());
        Assert.DoesNotContain(Id(apart), Ids(await alice.Get(Path($"{tag} \"harbor beacon\""))));
        // The english reading stems both words of the phrase; the simple one does not match: either reading suffices.
        Assert.Equal([Id(stemmed)], Ids(await alice.Get(Path($"{tag} \"deployed reviewing\""))));
        // A stop word inside the phrase: no pair to require in english ('beacon' <2> 'hope'); still found.
        Assert.Equal([Id(stopWord)], Ids(await alice.Get(Path($"{tag} \"beacon of hope\""))));
        // An edit replaces the pairs with the new text's.
        await alice.Json200(await alice.Patch($"/api/v1/conversations/{group}/messages/{Id(together)}", new { text = $"{tag} the beacon harbor" }));
        Assert.Equal([Id(punctuated)], Ids(await alice.Get(Path($"{tag} \"harbor beacon\""))));
    }

    [Fact]
    public async Task SearchIndex_VectorsOfTheOlderLayout_AreRewrittenWithTheirWordPairs()
    {
        var index = host.Factory.Services.GetRequiredService<SearchIndex>();
        Assert.True(await index.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None));
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var id = Id(await alice.Send(group, "the lighthouse keeper waves"));
        const string table = $"{MessagingServiceExtensions.Schema}.{SearchIndex.Table}";
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        async Task<string?> Scalar(string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            if (sql.Contains("$1"))
                command.Parameters.Add(new NpgsqlParameter { Value = id });
            return (await command.ExecuteScalarAsync())?.ToString();
        }
        Assert.Contains("'lighthouse keeper'", await Scalar($"select vector::text from {table} where id = $1"));
        // As an earlier version stored it: both readings, no pairs, and no layout recorded.
        await Scalar($"update {table} set vector = to_tsvector('english', 'the lighthouse keeper waves') || to_tsvector('simple', 'the lighthouse keeper waves') where id = $1");
        await Scalar($"comment on table {table} is null");
        Assert.DoesNotContain("'lighthouse keeper'", await Scalar($"select vector::text from {table} where id = $1"));

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            await index.RewriteOlderLayoutAsync(timeout.Token);

        Assert.Contains("'lighthouse keeper'", await Scalar($"select vector::text from {table} where id = $1"));
        Assert.Equal(SearchIndex.Layout, await Scalar($"select obj_description('{table}'::regclass, 'pg_class') where $1 is not null"));
        Assert.True(index.PairsReady);
    }

    /// <summary>
    /// The plans the benchmark's slow kinds now take: a phrase of two frequent words is looked up by its word pair in the
    /// GIN index (not by walking the newest rows and checking each, nor by reading every row holding both words), and a
    /// frequent word within one conversation walks that conversation's rows newest first.
    /// </summary>
    [Fact]
    public async Task SearchQuery_PhraseByItsWordPair_AndOneConversationByItsIndex()
    {
        var index = host.Factory.Services.GetRequiredService<SearchIndex>();
        Assert.True(await index.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None));
        var alice = host.Client();
        var group = await alice.CreateGroup(Guid.CreateVersion7());
        var (north, wind) = ("north" + Guid.NewGuid().ToString("N")[..5], "wind" + Guid.NewGuid().ToString("N")[..5]);
        var store = host.Factory.Services.GetRequiredService<IDocumentStore>();
        var others = Enumerable.Range(0, 20).Select(_ => Guid.CreateVersion7()).ToList();
        await store.BulkInsertAsync(others.Select(c => Membership.Joined(c, alice.UserId, MemberRole.Member, 1, DateTimeOffset.UtcNow)).ToList());
        // Both words in every other message, next to each other in one of 199.
        static bool InGroup(int i) => i % 10 == 0;
        static bool Phrase(int i) => i % 199 == 0;
        await store.BulkInsertAsync(Enumerable.Range(0, 20_000).Select(i => new MessageView
        {
            Id = Guid.CreateVersion7(), ConversationId = InGroup(i) ? group : others[i % others.Count], Seq = 1000 + i, SenderId = alice.UserId,
            ClientMessageId = $"plan-{i}", CreatedAt = DateTimeOffset.UtcNow,
            Text = Phrase(i) ? $"calm {north} {wind} today" : i % 2 == 0 ? $"{north} calm sea {wind}" : "calm sea today",
        }).ToList());
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        await using (var analyze = new NpgsqlCommand($"analyze {MessagingServiceExtensions.Schema}.{SearchIndex.Table}, {MessagingServiceExtensions.Schema}.mt_doc_membership", connection))
            await analyze.ExecuteNonQueryAsync();
        // 20,000 narrow rows fit in a few hundred pages, which a sequential scan reads as cheaply here; which index serves
        // each query is what matters (at a million rows the planner picks it by cost: BENCHMARKS.md).
        await using (var setting = new NpgsqlCommand("set enable_seqscan = off", connection))
            await setting.ExecuteNonQueryAsync();
        await Eventually.Returns(() => Task.FromResult(index.PairsReady), ready => ready, TimeSpan.FromSeconds(30), "the word pairs are stored");
        var phrase = $"\"{north} {wind}\"";
        Assert.Equal(Enumerable.Range(0, 20_000).Count(i => Phrase(i) && InGroup(i)), Items(await alice.Get(Path(phrase, $"&conversationId={group}&limit=100"))).Count);
        Assert.Equal(100, Items(await alice.Get(Path(phrase, "&limit=100"))).Count);

        var pairs = Search.PairFilter($"'{north}' <-> '{wind}'", $"'{north}' <-> '{wind}'");
        Assert.Equal($"('{north} {wind}')", pairs);
        // At this size walking the newest rows is as cheap as anything; what matters is that the GIN index finds the rows
        // by the pair (at a million rows the planner takes that path by cost: BENCHMARKS.md).
        await using (var setting = new NpgsqlCommand("set enable_indexscan = off", connection))
            await setting.ExecuteNonQueryAsync();
        var phrasePlan = await Explain(connection, Search.BuildQuery(phrase, alice.UserId, null, null, null, null, null, 21, pairs));
        await using (var setting = new NpgsqlCommand("reset enable_indexscan", connection))
            await setting.ExecuteNonQueryAsync();
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(phrasePlan, $"Bitmap Index Scan on {SearchIndex.VectorIndex}[^\\n]*\\n\\s+Index Cond: [^\\n]*'{north} {wind}'"), phrasePlan);
        Assert.DoesNotContain("Index Scan using message_search_idx_created", phrasePlan);

        var conversationPlan = await Explain(connection, Search.BuildQuery(north, alice.UserId, group, null, null, null, null, 21));
        Assert.Contains("message_search_idx_conversation_created", conversationPlan);
    }

    private static async Task<string> Explain(NpgsqlConnection connection, (string Sql, object[] Parameters) query)
    {
        var parts = query.Sql.Split('?');
        Assert.Equal(query.Parameters.Length + 1, parts.Length);
        await using var command = new NpgsqlCommand { Connection = connection };
        var text = new System.Text.StringBuilder("explain ").Append(parts[0]);
        for (var i = 0; i < query.Parameters.Length; i++)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = query.Parameters[i] });
            text.Append('$').Append(i + 1).Append(parts[i + 1]);
        }
        command.CommandText = text.ToString();
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                plan.Add(reader.GetString(0));
        return string.Join("\n", plan);
    }
}

/// <summary>Retention moves the clock: its own database.</summary>
public sealed class SearchRetentionTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task Search_ExpiredText_NeverMatches()
    {
        var alice = host.Client();
        var conversation = (await alice.Json200(await alice.Post("/api/v1/conversations",
            new { kind = "group", title = "Ephemeral", memberIds = new[] { Guid.CreateVersion7() }, retentionDays = 1 }))).GetProperty("id").GetGuid();
        var old = await alice.Send(conversation, "the heron expires");
        host.Clock.Advance(TimeSpan.FromHours(25));
        var fresh = await alice.Send(conversation, "the heron stays");

        await Eventually.Returns(
            () => alice.Get($"/api/v1/conversations/{conversation}/messages/{old.GetProperty("id")}"),
            m => m.GetProperty("deleted").GetBoolean(), TimeSpan.FromSeconds(20), "the expired message is erased");
        var found = (await alice.Get("/api/v1/search/messages?q=heron")).GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("message").GetProperty("id").GetGuid()).ToList();
        Assert.Equal([fresh.GetProperty("id").GetGuid()], found);
    }
}
