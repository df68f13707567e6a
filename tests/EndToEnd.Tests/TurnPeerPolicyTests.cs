using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Platform.Testing;

namespace Platform.EndToEnd.Tests;

/// <summary>
/// The coturn of <c>./platform run</c> relays only to what a call needs: started with the peer policy the run script
/// gives it (<c>scripts/turn-peer-policy.sh</c>), a TURN client holding valid credentials (signed as Messaging signs
/// them) gets a relay, may relay to the loopback relays of one machine, and is refused (403) a permission for any
/// private, carrier-grade NAT, link-local (cloud metadata) or "this network" address.
/// </summary>
public sealed class TurnPeerPolicyTests
{
    private const string Secret = "turn-policy-test-secret";
    private const string Realm = "platform.local";

    [Fact]
    public async Task TheRunScriptsCoturn_RelaysToLoopbackRelays_AndRefusesPrivateAndMetadataPeers()
    {
        var policy = await PeerPolicyAsync("127.0.0.1");
        Assert.Contains("--allow-loopback-peers", policy);
        await using var turn = await CoturnAsync(policy);
        using var client = new TurnClient(new IPEndPoint(IPAddress.Loopback, turn.Port));
        var username = $"{DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds()}:{Guid.NewGuid()}";
        var password = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(username)));

        Assert.Equal(0, await client.AllocateAsync(username, password));

        Assert.Equal(0, await client.CreatePermissionAsync(IPAddress.Loopback));
        foreach (var peer in new[] { "10.1.2.3", "172.16.5.4", "172.31.255.1", "192.168.1.1", "169.254.169.254", "100.64.0.7", "0.1.2.3" })
            Assert.True(await client.CreatePermissionAsync(IPAddress.Parse(peer)) == 403, $"{peer} is not refused\n{turn.Log()}");
    }

    [Fact]
    public async Task RelayingOnAnotherAddress_LoopbackPeersAreDeniedToo()
    {
        var policy = await PeerPolicyAsync("203.0.113.5");
        Assert.DoesNotContain("--allow-loopback-peers", policy);
        Assert.Contains("--denied-peer-ip=127.0.0.0-127.255.255.255", policy);
        Assert.Contains("--denied-peer-ip=::1", policy);
    }

    private static async Task<IReadOnlyList<string>> PeerPolicyAsync(string relayIp)
    {
        var script = Path.Combine(CallPlatform.RepositoryRoot(), "scripts", "turn-peer-policy.sh");
        using var process = Process.Start(new ProcessStartInfo("bash", [script, relayIp]) { RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    // A coturn that does not answer (in a full run, once, its port was taken between the probe and its start) is
    // started again on another port, twice at most.
    private static async Task<Coturn> CoturnAsync(IReadOnlyList<string> policy)
    {
        for (var attempt = 1; ; attempt++)
        {
            var turn = await StartCoturnAsync(policy, TimeSpan.FromSeconds(attempt < 3 ? 10 : 30));
            if (turn.Answers || attempt == 3)
            {
                Assert.True(turn.Answers, $"coturn does not answer\n{turn.Log()}");
                return turn;
            }
            await turn.DisposeAsync();
        }
    }

    private static async Task<Coturn> StartCoturnAsync(IReadOnlyList<string> policy, TimeSpan wait)
    {
        var turnserver = new[] { "/usr/bin/turnserver", "/usr/local/bin/turnserver" }.FirstOrDefault(File.Exists);
        Assert.True(turnserver is not null, "coturn is not installed: `apt-get install coturn` (./platform test installs it).");
        int port;
        using (var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
            port = ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
        var work = Directory.CreateTempSubdirectory("platform-turn-policy-").FullName;
        var log = Path.Combine(work, "turn.log");
        // As scripts/run.sh starts it, on loopback and this test's own port.
        string[] arguments =
        [
            "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", $"--listening-port={port}",
            "--use-auth-secret", $"--static-auth-secret={Secret}", $"--realm={Realm}", "--fingerprint",
            "--no-tls", "--no-dtls", "--no-cli", "--no-tcp-relay", .. policy,
            $"--pidfile={Path.Combine(work, "turn.pid")}", $"--log-file={log}", "--simple-log", "--no-stdout-log",
        ];
        var process = Process.Start(new ProcessStartInfo(turnserver, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var turn = new Coturn(process, port, log);
        // Ready when it answers a STUN binding request.
        using var probeClient = new TurnClient(new IPEndPoint(IPAddress.Loopback, port));
        try
        {
            await Eventually.Returns(async () => process.HasExited || await probeClient.BindingAsync(), ready => ready, wait, "coturn answers");
            turn.Answers = !process.HasExited;
        }
        catch (TimeoutException)
        {
        }
        return turn;
    }

    private sealed class Coturn(Process process, int port, string log) : IAsyncDisposable
    {
        public int Port { get; } = port;

        /// <summary>Whether it answered a STUN binding request after it started.</summary>
        public bool Answers { get; set; }

        public string Log() => File.Exists(log) ? File.ReadAllText(log) : "(no log)";

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            process.Dispose();
        }
    }

    /// <summary>
    /// Just enough of a TURN client (RFC 8656 over UDP, long-term credentials): Allocate, then CreatePermission,
    /// answering with the error code of the response (0 for success).
    /// </summary>
    private sealed class TurnClient(IPEndPoint server) : IDisposable
    {
        private const uint MagicCookie = 0x2112A442;
        private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
        private byte[]? _key;
        private string? _username;
        private string? _realm;
        private string? _nonce;

        public async Task<bool> BindingAsync()
        {
            try
            {
                var response = await ExchangeAsync(Message(0x0001, [], sign: false), TimeSpan.FromMilliseconds(300));
                return response is not null && MessageType(response) == 0x0101;
            }
            catch (SocketException)
            {
                return false;
            }
        }

        public async Task<int> AllocateAsync(string username, string password)
        {
            (byte Type, byte[] Value)[] transport = [(0x19, [17, 0, 0, 0])];
            var challenge = await ExchangeAsync(Message(0x0003, transport, sign: false)) ?? throw new TimeoutException("no answer to Allocate");
            Assert.Equal(401, ErrorCode(challenge));
            var attributes = Attributes(challenge);
            _realm = Encoding.UTF8.GetString(attributes[0x0014]);
            _nonce = Encoding.UTF8.GetString(attributes[0x0015]);
            _username = username;
            _key = MD5.HashData(Encoding.UTF8.GetBytes($"{username}:{_realm}:{password}"));
            var response = await ExchangeAsync(Message(0x0003, transport, sign: true)) ?? throw new TimeoutException("no answer to Allocate");
            return ErrorCode(response);
        }

        public async Task<int> CreatePermissionAsync(IPAddress peer)
        {
            var address = peer.GetAddressBytes();
            var xored = new byte[8];
            xored[1] = 0x01;
            BinaryPrimitives.WriteUInt16BigEndian(xored.AsSpan(2), (ushort)(9 ^ (MagicCookie >> 16)));
            var cookie = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(cookie, MagicCookie);
            for (var i = 0; i < 4; i++)
                xored[4 + i] = (byte)(address[i] ^ cookie[i]);
            var response = await ExchangeAsync(Message(0x0008, [(0x12, xored)], sign: true)) ?? throw new TimeoutException("no answer to CreatePermission");
            return ErrorCode(response);
        }

        public void Dispose() => _udp.Dispose();

        private async Task<byte[]?> ExchangeAsync(byte[] request, TimeSpan? timeout = null)
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                await _udp.SendAsync(request, server);
                using var wait = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(2));
                try
                {
                    while (true)
                    {
                        var received = await _udp.ReceiveAsync(wait.Token);
                        // The answer to this request: the same transaction id.
                        if (received.Buffer.Length >= 20 && received.Buffer.AsSpan(8, 12).SequenceEqual(request.AsSpan(8, 12)))
                            return received.Buffer;
                    }
                }
                catch (OperationCanceledException)
                {
                }
            }
            return null;
        }

        private byte[] Message(ushort type, IReadOnlyList<(byte Type, byte[] Value)> attributes, bool sign)
        {
            var all = attributes.Select(a => ((ushort)a.Type, a.Value)).ToList();
            if (sign)
            {
                all.Add((0x0006, Encoding.UTF8.GetBytes(_username!)));
                all.Add((0x0014, Encoding.UTF8.GetBytes(_realm!)));
                all.Add((0x0015, Encoding.UTF8.GetBytes(_nonce!)));
            }
            using var body = new MemoryStream();
            foreach (var (attributeType, value) in all)
                WriteAttribute(body, attributeType, value);
            var header = new byte[20];
            BinaryPrimitives.WriteUInt16BigEndian(header, type);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), MagicCookie);
            RandomNumberGenerator.Fill(header.AsSpan(8, 12));
            var withoutIntegrity = body.ToArray();
            if (!sign)
            {
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)withoutIntegrity.Length);
                return [.. header, .. withoutIntegrity];
            }
            // MESSAGE-INTEGRITY: HMAC-SHA1 over the message with its length already counting the integrity attribute.
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)(withoutIntegrity.Length + 24));
            var mac = HMACSHA1.HashData(_key!, header.Concat(withoutIntegrity).ToArray());
            using var signed = new MemoryStream();
            signed.Write(header);
            signed.Write(withoutIntegrity);
            WriteAttribute(signed, 0x0008, mac);
            return signed.ToArray();
        }

        private static void WriteAttribute(Stream stream, ushort type, byte[] value)
        {
            Span<byte> head = stackalloc byte[4];
            BinaryPrimitives.WriteUInt16BigEndian(head, type);
            BinaryPrimitives.WriteUInt16BigEndian(head[2..], (ushort)value.Length);
            stream.Write(head);
            stream.Write(value);
            stream.Write(new byte[(4 - value.Length % 4) % 4]);
        }

        private static ushort MessageType(byte[] message) => BinaryPrimitives.ReadUInt16BigEndian(message);

        private static Dictionary<ushort, byte[]> Attributes(byte[] message)
        {
            var attributes = new Dictionary<ushort, byte[]>();
            var length = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(2));
            for (var offset = 20; offset + 4 <= 20 + length;)
            {
                var type = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(offset));
                var size = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(offset + 2));
                attributes.TryAdd(type, message.AsSpan(offset + 4, size).ToArray());
                offset += 4 + size + (4 - size % 4) % 4;
            }
            return attributes;
        }

        /// <summary>0 for a success response, else the ERROR-CODE's class and number (401, 403, ...).</summary>
        private static int ErrorCode(byte[] message)
        {
            if ((MessageType(message) & 0x0110) == 0x0100)
                return 0;
            var error = Attributes(message).GetValueOrDefault((ushort)0x0009) ?? throw new InvalidDataException("an error response without ERROR-CODE");
            return error[2] * 100 + error[3];
        }
    }
}
