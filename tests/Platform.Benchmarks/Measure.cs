using System.Diagnostics;
using HdrHistogram;

namespace Platform.Benchmarks;

/// <summary>Latencies in Stopwatch ticks, reported in milliseconds.</summary>
internal sealed class Latency
{
    private readonly LongHistogram _histogram = new(TimeStamp.Seconds(120), 3);

    public long Count
    {
        get { lock (_histogram) return _histogram.TotalCount; }
    }

    public void Record(long ticks)
    {
        lock (_histogram)
            _histogram.RecordValue(Math.Max(0, ticks));
    }

    public void Record(long ticks, long count)
    {
        lock (_histogram)
            _histogram.RecordValueWithCount(Math.Max(0, ticks), count);
    }

    public void RecordNanoseconds(long nanoseconds) => Record((long)(nanoseconds * (Stopwatch.Frequency / 1e9)));

    public double Ms(double percentile)
    {
        lock (_histogram)
            return _histogram.TotalCount == 0 ? double.NaN : _histogram.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency;
    }

    public double MaxMs
    {
        get { lock (_histogram) return _histogram.TotalCount == 0 ? double.NaN : _histogram.GetMaxValue() * 1000.0 / Stopwatch.Frequency; }
    }

    public Dictionary<string, double> Summary() => new()
    {
        ["p50"] = Round(Ms(50)), ["p90"] = Round(Ms(90)), ["p99"] = Round(Ms(99)), ["p99.9"] = Round(Ms(99.9)), ["max"] = Round(MaxMs), ["count"] = Count,
    };

    public string Row(string name) => $"| {name} | {Ms(50):0.00} | {Ms(90):0.00} | {Ms(99):0.00} | {Ms(99.9):0.00} | {MaxMs:0.00} | {Count} |";

    private static double Round(double value) => double.IsNaN(value) ? -1 : Math.Round(value, 3);
}

/// <summary>
/// Starts work on a fixed schedule whatever earlier work does (open loop); each latency counts from its scheduled start.
/// A timer alone wakes late on this kind of VM (Task.Delay: 2.5 ms at the median, idle cores halt), and that lateness
/// would be counted in every figure, baselines and ours alike: so the loop sleeps until shortly before each start and
/// spins the rest (at most 3 ms, and at most a quarter of the interval, so high rates do not burn a core).
/// </summary>
internal static class OpenLoop
{
    /// <summary>How late, over the whole run, work started after its scheduled time (the load generator's own error).</summary>
    public static Latency Lateness { get; } = new();

    public static async Task RunAsync(double rate, int count, Func<int, long, Task> start, CancellationToken cancellationToken = default)
    {
        var interval = Stopwatch.Frequency / rate;
        var margin = (long)Math.Min(Stopwatch.Frequency * 0.003, interval / 4);
        var origin = Stopwatch.GetTimestamp();
        var running = new List<Task>(count);
        for (var i = 0; i < count && !cancellationToken.IsCancellationRequested; i++)
        {
            var scheduled = origin + (long)(i * interval);
            var wait = scheduled - margin - Stopwatch.GetTimestamp();
            if (wait > Stopwatch.Frequency / 1000)
                await Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency), cancellationToken);
            while (Stopwatch.GetTimestamp() < scheduled)
                Thread.SpinWait(20);
            Lateness.Record(Stopwatch.GetTimestamp() - scheduled);
            var index = i;
            running.Add(Task.Run(() => start(index, scheduled), cancellationToken));
        }
        await Task.WhenAll(running);
    }
}

/// <summary>CPU time and peak resident memory of processes, from /proc (Linux).</summary>
internal sealed class ProcessUsage
{
    private readonly Dictionary<string, Func<IEnumerable<int>>> _processes = [];
    private readonly HashSet<string> _trees = [];
    private readonly Dictionary<string, (double Cpu, long PeakRss)> _start = [];

    public void Track(string name, Func<IEnumerable<int>> pids) => _processes[name] = pids;

    /// <summary>
    /// A server's process tree (<see cref="Tree"/>): the CPU of its processes that ended is counted too, from their
    /// parents' (PostgreSQL's backends come and go with the services' pooled connections; without this, a backend that
    /// ended during a step took its whole CPU out of the step's total, which could even fall below zero).
    /// </summary>
    public void TrackTree(string name, string fragment)
    {
        _processes[name] = () => Tree(fragment);
        _trees.Add(name);
    }

    public void Untrack(string name) => _processes.Remove(name);

    public void Begin()
    {
        foreach (var (name, pids) in _processes)
            _start[name] = Read(pids(), _trees.Contains(name));
    }

    /// <summary>Per process: CPU seconds used since <see cref="Begin"/> (as cores over the interval) and peak RSS in MiB.</summary>
    public Dictionary<string, (double CpuSeconds, double PeakRssMiB)> End() => _processes.ToDictionary(p => p.Key, p =>
    {
        var (cpu, peak) = Read(p.Value(), _trees.Contains(p.Key));
        return (Math.Round(cpu - _start.GetValueOrDefault(p.Key).Cpu, 2), Math.Round(peak / 1024.0, 1));
    });

    /// <param name="reaped">Also the CPU of each process's children that ended and were waited for (a whole tree's).</param>
    public static (double CpuSeconds, long PeakRssKiB) Read(IEnumerable<int> pids, bool reaped = false)
    {
        double cpu = 0;
        long rss = 0;
        var tick = 100.0; // USER_HZ on Linux
        foreach (var pid in pids)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // utime, stime; then cutime, cstime: children that ended (a process's CPU moves to its parent's when it is waited for).
                cpu += (long.Parse(fields[11]) + long.Parse(fields[12]) + (reaped ? long.Parse(fields[13]) + long.Parse(fields[14]) : 0)) / tick;
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                        rss += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
            }
            catch (IOException)
            {
            }
        }
        return (cpu, rss);
    }

    public static long CurrentRssKiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        return 0;
    }

    /// <summary>The processes whose command line contains <paramref name="fragment"/>, and all their descendants.</summary>
    public static IEnumerable<int> Tree(string fragment) => WithDescendants(Matching(fragment));

    /// <summary><paramref name="roots"/> and all their descendants (from each process's parent in <c>/proc</c>).</summary>
    public static HashSet<int> WithDescendants(IEnumerable<int> roots)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(directory), out var pid))
                try
                {
                    var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                    parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                }
                catch (IOException)
                {
                }
        var found = roots.ToHashSet();
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (pid, parent) in parents)
                if (!found.Contains(pid) && found.Contains(parent))
                    grew = found.Add(pid);
        }
        return found;
    }

    /// <summary>Processes whose command line contains <paramref name="fragment"/> (e.g. the PostgreSQL data folder).</summary>
    public static IEnumerable<int> Matching(string fragment)
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
                continue;
            string command;
            try
            {
                command = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            if (command.Contains(fragment, StringComparison.Ordinal))
                yield return pid;
        }
    }
}
