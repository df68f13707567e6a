using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>One span as a service exported it over OTLP; times in Unix nanoseconds (all processes share this machine's clock).</summary>
internal sealed record TraceSpan(
    string Service, string Scope, string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, long Start, long End,
    IReadOnlyDictionary<string, string> Attributes)
{
    public const int Internal = 1, Server = 2, Client = 3, Producer = 4, Consumer = 5;

    public string? Attribute(string key) => Attributes.GetValueOrDefault(key);
}

/// <summary>
/// The OTLP/HTTP endpoint the services export to during a run (<c>POST /v1/traces</c>, protobuf); keeps the spans by
/// trace. Metrics and logs are accepted and dropped.
/// </summary>
internal sealed class TraceReceiver : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<TraceSpan>> _traces = new();
    private WebApplication? _app;
    private long _spans;

    /// <summary>The base address for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public Uri Endpoint => new(_app!.Urls.First());

    public long SpansReceived => Interlocked.Read(ref _spans);

    public int TraceCount => _traces.Count;

    public static async Task<TraceReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(LoopbackServer.HostOptions);
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new TraceReceiver { _app = app };
        app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            foreach (var span in OtlpTraces.Parse(await ReadBodyAsync(request)))
            {
                receiver._traces.GetOrAdd(span.TraceId, _ => new()).Enqueue(span);
                Interlocked.Increment(ref receiver._spans);
            }
            return Results.Bytes([], "application/x-protobuf");
        });
        app.MapPost("/v1/{signal}", () => Results.Bytes([], "application/x-protobuf"));
        await app.StartAsync();
        return receiver;
    }

    public IReadOnlyList<TraceSpan> Trace(string traceId) => _traces.TryGetValue(traceId, out var spans) ? spans.ToList() : [];

    /// <summary>Waits until no span has arrived for <paramref name="quiet"/> (the exporters send in batches), at most <paramref name="limit"/>.</summary>
    public async Task SettleAsync(TimeSpan quiet, TimeSpan limit)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        var last = SpansReceived;
        var lastChange = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() < deadline && Stopwatch.GetElapsedTime(lastChange) < quiet)
        {
            await Task.Delay(100);
            if (SpansReceived != last)
                (last, lastChange) = (SpansReceived, Stopwatch.GetTimestamp());
        }
    }

    public async ValueTask DisposeAsync() => await _app!.DisposeAsync();

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        if (request.Headers.ContentEncoding == "gzip")
        {
            await using var gzip = new GZipStream(request.Body, CompressionMode.Decompress);
            await gzip.CopyToAsync(buffer);
        }
        else
            await request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}

/// <summary>
/// Reads an OTLP <c>ExportTraceServiceRequest</c> (opentelemetry-proto, collector/trace/v1) from its protobuf wire
/// format, only the fields the benchmark uses; everything else is skipped by wire type.
/// </summary>
internal static class OtlpTraces
{
    public static List<TraceSpan> Parse(ReadOnlySpan<byte> request)
    {
        var spans = new List<TraceSpan>();
        var reader = new ProtoReader(request);
        while (reader.Next(out var field, out var wireType))
            if (field == 1 && wireType == ProtoReader.Length) // repeated ResourceSpans resource_spans = 1
                ResourceSpans(reader.ReadBytes(), spans);
            else
                reader.Skip(wireType);
        return spans;
    }

    private static void ResourceSpans(ReadOnlySpan<byte> message, List<TraceSpan> spans)
    {
        // Resource resource = 1 (its repeated KeyValue attributes = 1); repeated ScopeSpans scope_spans = 2.
        // The resource may come after its spans on the wire.
        var resource = new Dictionary<string, string>();
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
            if (field == 1 && wireType == ProtoReader.Length)
            {
                var attributes = new ProtoReader(reader.ReadBytes());
                while (attributes.Next(out var attributeField, out var attributeWire))
                    if (attributeField == 1 && attributeWire == ProtoReader.Length)
                        KeyValue(attributes.ReadBytes(), resource);
                    else
                        attributes.Skip(attributeWire);
            }
            else
                reader.Skip(wireType);
        var service = resource.GetValueOrDefault("service.name") ?? "";
        reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
            if (field == 2 && wireType == ProtoReader.Length)
                ScopeSpans(reader.ReadBytes(), service, spans);
            else
                reader.Skip(wireType);
    }

    private static void ScopeSpans(ReadOnlySpan<byte> message, string service, List<TraceSpan> spans)
    {
        // InstrumentationScope scope = 1 (its string name = 1); repeated Span spans = 2.
        var scope = "";
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
            if (field == 1 && wireType == ProtoReader.Length)
            {
                var scopeReader = new ProtoReader(reader.ReadBytes());
                while (scopeReader.Next(out var scopeField, out var scopeWire))
                    if (scopeField == 1 && scopeWire == ProtoReader.Length)
                        scope = Encoding.UTF8.GetString(scopeReader.ReadBytes());
                    else
                        scopeReader.Skip(scopeWire);
            }
            else
                reader.Skip(wireType);
        reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
            if (field == 2 && wireType == ProtoReader.Length)
                spans.Add(Span(reader.ReadBytes(), service, scope));
            else
                reader.Skip(wireType);
    }

    private static TraceSpan Span(ReadOnlySpan<byte> message, string service, string scope)
    {
        // bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; SpanKind kind = 6;
        // fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9.
        string traceId = "", spanId = "", parent = "", name = "";
        var kind = 0;
        long start = 0, end = 0;
        var attributes = new Dictionary<string, string>();
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wireType))
            switch (field, wireType)
            {
                case (1, ProtoReader.Length): traceId = Convert.ToHexStringLower(reader.ReadBytes()); break;
                case (2, ProtoReader.Length): spanId = Convert.ToHexStringLower(reader.ReadBytes()); break;
                case (4, ProtoReader.Length): parent = Convert.ToHexStringLower(reader.ReadBytes()); break;
                case (5, ProtoReader.Length): name = Encoding.UTF8.GetString(reader.ReadBytes()); break;
                case (6, ProtoReader.Varint): kind = (int)reader.ReadVarint(); break;
                case (7, ProtoReader.Fixed64): start = (long)reader.ReadFixed64(); break;
                case (8, ProtoReader.Fixed64): end = (long)reader.ReadFixed64(); break;
                case (9, ProtoReader.Length): KeyValue(reader.ReadBytes(), attributes); break;
                default: reader.Skip(wireType); break;
            }
        return new TraceSpan(service, scope, traceId, spanId, parent, name, kind, start, end, attributes);
    }

    /// <summary>
    /// A <c>KeyValue</c> (string key = 1; AnyValue value = 2), its value as text: string_value = 1, bool_value = 2,
    /// int_value = 3, double_value = 4 (arrays, lists and bytes are skipped).
    /// </summary>
    private static void KeyValue(ReadOnlySpan<byte> message, Dictionary<string, string> into)
    {
        string? key = null, value = null;
        var pair = new ProtoReader(message);
        while (pair.Next(out var field, out var wireType))
            if (field == 1 && wireType == ProtoReader.Length)
                key = Encoding.UTF8.GetString(pair.ReadBytes());
            else if (field == 2 && wireType == ProtoReader.Length)
            {
                var any = new ProtoReader(pair.ReadBytes());
                while (any.Next(out var anyField, out var anyWire))
                    if (anyField == 1 && anyWire == ProtoReader.Length)
                        value = Encoding.UTF8.GetString(any.ReadBytes());
                    else if (anyField == 2 && anyWire == ProtoReader.Varint)
                        value = any.ReadVarint() != 0 ? "true" : "false";
                    else if (anyField == 3 && anyWire == ProtoReader.Varint)
                        value = ((long)any.ReadVarint()).ToString(CultureInfo.InvariantCulture);
                    else if (anyField == 4 && anyWire == ProtoReader.Fixed64)
                        value = BitConverter.UInt64BitsToDouble(any.ReadFixed64()).ToString(CultureInfo.InvariantCulture);
                    else
                        any.Skip(anyWire);
            }
            else
                pair.Skip(wireType);
        if (key is not null && value is not null)
            into[key] = value;
    }
}

/// <summary>The protobuf wire format: a tag (field number, wire type) as a varint, then the value.</summary>
internal ref struct ProtoReader
{
    public const int Varint = 0, Fixed64 = 1, Length = 2, Fixed32 = 5;

    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> data) => _data = data;

    public bool Next(out int field, out int wireType)
    {
        if (_position >= _data.Length)
        {
            (field, wireType) = (0, 0);
            return false;
        }
        var tag = ReadVarint();
        (field, wireType) = ((int)(tag >> 3), (int)(tag & 7));
        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = _data[_position++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
                return value;
        }
        throw new InvalidDataException("A varint longer than 10 bytes.");
    }

    public ulong ReadFixed64()
    {
        var value = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(_data[_position..]);
        _position += 8;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        var length = checked((int)ReadVarint());
        var value = _data.Slice(_position, length);
        _position += length;
        return value;
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: _position += 8; break;
            case Length: ReadBytes(); break;
            case Fixed32: _position += 4; break;
            default: throw new InvalidDataException($"Wire type {wireType} is not used by OTLP.");
        }
    }
}
