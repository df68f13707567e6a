using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization.Metadata;
using Platform.Contracts.Messaging;

namespace Platform.BuildingBlocks.Tests;

/// <summary>
/// The JSON of every integration event (and of each conversation event's data record) is snapshotted in
/// <c>building-blocks/Platform.Contracts/Schemas</c>. A change that readers of the old JSON cannot read (a property
/// removed, renamed or retyped) fails here: publish a new version instead (Platform.Contracts/README.md). An additive
/// change fails too until the snapshot is rewritten with <c>PLATFORM_UPDATE_SCHEMAS=1</c>, so that it shows in review.
/// </summary>
public sealed class ContractSchemaTests
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };

    private static readonly string SchemaDirectory = Path.Combine(RepositoryRoot(), "building-blocks", "Platform.Contracts", "Schemas");

    public static TheoryData<string> Contracts() => [.. ContractTypes().Select(t => t.FullName!)];

    [Theory]
    [MemberData(nameof(Contracts))]
    public void TheContractsJson_StaysReadableByItsReaders(string typeName)
    {
        var type = typeof(ConversationEvent).Assembly.GetType(typeName)!;
        var schema = JsonSchemaExporter.GetJsonSchemaAsNode(Options, type);
        var path = SnapshotPath(type);
        var update = Environment.GetEnvironmentVariable("PLATFORM_UPDATE_SCHEMAS") == "1";

        if (!File.Exists(path))
        {
            if (update)
            {
                Write(path, schema);
                return;
            }
            Assert.Fail($"{type.Name} has no schema snapshot: run the tests with PLATFORM_UPDATE_SCHEMAS=1 and commit {Relative(path)}.");
        }

        var snapshot = JsonNode.Parse(File.ReadAllText(path))!;
        var breaks = new List<string>();
        Compare(snapshot, schema, "$", breaks);
        Assert.True(breaks.Count == 0,
            $"{type.Name}'s JSON changed in a way its readers cannot follow ({string.Join("; ", breaks)}). Contracts only grow: " +
            "add an optional property, or publish a new version of the record beside this one (Platform.Contracts/README.md).");

        if (!JsonNode.DeepEquals(snapshot, schema))
        {
            if (update)
                Write(path, schema);
            else
                Assert.Fail($"{type.Name}'s JSON grew: run the tests with PLATFORM_UPDATE_SCHEMAS=1 and commit {Relative(path)}.");
        }
    }

    [Fact]
    public void EveryConversationEventType_HasOneDataRecord()
    {
        var names = typeof(ConversationEventTypes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).Order().ToList();
        var records = ConversationEventData.Types.Values.Where(a => a.Version == 1).Select(a => a.Type).Order().ToList();
        Assert.Equal(names, records);
        Assert.Equal(ConversationEventData.Types.Count, ConversationEventData.Types.Values.Select(a => (a.Type, a.Version)).Distinct().Count());
    }

    [Fact]
    public void TheComparison_FindsRemovedRenamedAndRetypedProperties()
    {
        var before = JsonNode.Parse("""{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"n":{"type":"integer"},"s":{"type":["string","null"]}}}""")!;
        var after = JsonNode.Parse("""{"type":"object","properties":{"identifier":{"type":"string","format":"uuid"},"n":{"type":"string"},"s":{"type":["string","null"]},"x":{"type":"integer"}}}""")!;
        var breaks = new List<string>();
        Compare(before, after, "$", breaks);
        Assert.Equal(["$.id was removed", "$.n: type \"integer\" became \"string\""], breaks);
    }

    /// <summary>What readers of <paramref name="before"/> rely on and <paramref name="after"/> no longer gives them.</summary>
    private static void Compare(JsonNode? before, JsonNode? after, string path, List<string> breaks)
    {
        if (before is not JsonObject old || after is not JsonObject now)
            return;
        foreach (var keyword in new[] { "type", "format", "enum", "$ref" })
            if (old[keyword] is { } was && !JsonNode.DeepEquals(was, now[keyword]))
                breaks.Add($"{path}: {keyword} {was.ToJsonString()} became {now[keyword]?.ToJsonString() ?? "nothing"}");
        if (old["properties"] is JsonObject oldProperties)
            foreach (var (name, schema) in oldProperties)
            {
                if (now["properties"]?[name] is not { } current)
                    breaks.Add($"{path}.{name} was removed");
                else
                    Compare(schema, current, $"{path}.{name}", breaks);
            }
        Compare(old["items"], now["items"], path + "[]", breaks);
        if (now["required"] is JsonArray required)
            foreach (var name in required.Select(n => n!.GetValue<string>()))
                if (old["required"] is not JsonArray wasRequired || wasRequired.All(n => n!.GetValue<string>() != name))
                    breaks.Add($"{path}.{name} became required");
    }

    /// <summary>Every public record of Platform.Contracts: the messages on the bus and the records inside them.</summary>
    private static IEnumerable<Type> ContractTypes() => typeof(ConversationEvent).Assembly.GetExportedTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && !typeof(Attribute).IsAssignableFrom(t) && t.Namespace!.StartsWith("Platform.Contracts", StringComparison.Ordinal))
        .OrderBy(t => t.FullName, StringComparer.Ordinal);

    private static string SnapshotPath(Type type) =>
        Path.Combine(SchemaDirectory, type.Namespace!["Platform.Contracts".Length..].TrimStart('.'), type.Name + ".json");

    private static void Write(string path, JsonNode schema)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, schema.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static string Relative(string path) => Path.GetRelativePath(RepositoryRoot(), path);

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Platform.sln")))
                return directory.FullName;
        throw new InvalidOperationException("Platform.sln not found above the test's directory.");
    }
}
