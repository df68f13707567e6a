using ScottPlot;

namespace Platform.Benchmarks;

/// <summary>
/// The report's figures drawn as SVG images beside it: latency versus offered load (the capacity curve), CPU per
/// message per process, and fan-out latency against the bare SignalR broadcast of the same rate.
/// </summary>
internal static class Charts
{
    private const int Width = 900, Height = 520;

    /// <summary>Writes the charts the report has data for; returns the files written.</summary>
    public static IReadOnlyList<string> Write(Report report, string folder, string stamp)
    {
        List<string> written = [];
        if (report.Curve.Count > 0)
            written.Add(LatencyVersusLoad(report, Path.Combine(folder, $"latency-vs-load-{stamp}.svg")));
        if (report.Curve.Count > 0 && report.Usage.TryGetValue("capacity", out var capacity))
            written.Add(CpuPerMessage(report, capacity, Path.Combine(folder, $"cpu-per-message-{stamp}.svg")));
        if (report.Fanout.Count > 0)
            written.Add(Fanout(report, Path.Combine(folder, $"fanout-{stamp}.svg")));
        if (report.NodeCurves.Any(curve => curve.Steps.Count > 0))
            written.Add(FanoutNode(report.NodeCurves, Path.Combine(folder, $"fanout-node-{stamp}.svg")));
        return written;
    }

    private static string LatencyVersusLoad(Report report, string path)
    {
        var plot = new Plot();
        var rates = report.Curve.Select(step => step.OfferedRate).ToArray();
        foreach (var (percentile, label) in new[] { (50.0, "p50"), (90.0, "p90"), (99.0, "p99") })
        {
            var line = plot.Add.Scatter(rates, report.Curve.Select(step => step.Delivered.Ms(percentile)).ToArray());
            line.LegendText = $"send → delivered {label}";
            line.MarkerSize = 7;
        }
        var target = plot.Add.HorizontalLine(100);
        target.LegendText = "p99 limit of \"sustained\" (100 ms)";
        target.LinePattern = LinePattern.Dashed;
        plot.Title("Latency versus offered load (whole platform, durable, 2 cores)");
        plot.XLabel("offered messages/s");
        plot.YLabel("ms");
        plot.Axes.SetLimitsY(0, Math.Min(1000, Math.Max(150, report.Curve.Max(step => step.Delivered.Ms(99)) * 1.1)));
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SaveSvg(path, Width, Height);
        return path;
    }

    private static string CpuPerMessage(Report report, Dictionary<string, (double CpuSeconds, double PeakRssMiB)> usage, string path)
    {
        var messages = report.Curve.Sum(step => step.Messages);
        var processes = usage.OrderByDescending(p => p.Value.CpuSeconds).Select(p => (Key: p.Key.Replace("+", "+\n"), p.Value)).ToList();
        var plot = new Plot();
        var bars = plot.Add.Bars(processes.Select(p => 1000 * p.Value.CpuSeconds / Math.Max(1, messages)).ToArray());
        bars.ValueLabelStyle.FontSize = 12;
        foreach (var bar in bars.Bars)
            bar.Label = bar.Value.ToString("0.00");
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, processes.Count).Select(i => (double)i).ToArray(), processes.Select(p => p.Key).ToArray());
        plot.Title($"CPU per message, by process (capacity steps: {messages:N0} messages; total {1000 * processes.Sum(p => p.Value.CpuSeconds) / Math.Max(1, messages):0.0} ms)");
        plot.YLabel("CPU ms per message");
        plot.Axes.Margins(bottom: 0);
        plot.SaveSvg(path, Width, Height);
        return path;
    }

    private static string Fanout(Report report, string path)
    {
        var plot = new Plot();
        var rooms = report.Fanout.Keys.Order().ToArray();
        var positions = Enumerable.Range(0, rooms.Length).Select(i => (double)i).ToArray();
        var series = new List<(string Label, double[] Values, double Offset)>
        {
            ("platform p50", rooms.Select(room => report.Fanout[room].Delivered.Ms(50)).ToArray(), -0.3),
            ("platform p99", rooms.Select(room => report.Fanout[room].Delivered.Ms(99)).ToArray(), -0.1),
            ("bare hub p50", rooms.Select(room => report.BroadcastBaselines.TryGetValue(room, out var bare) ? bare.Latency.Ms(50) : double.NaN).ToArray(), 0.1),
            ("bare hub p99", rooms.Select(room => report.BroadcastBaselines.TryGetValue(room, out var bare) ? bare.Latency.Ms(99) : double.NaN).ToArray(), 0.3),
        };
        foreach (var (label, values, offset) in series)
        {
            var bars = plot.Add.Bars(positions.Select(p => p + offset).ToArray(), values);
            bars.LegendText = label;
            foreach (var bar in bars.Bars)
                bar.Size = 0.18;
        }
        plot.Axes.Bottom.SetTicks(positions, rooms.Select(room =>
            $"room of {room}\n{report.Fanout[room].DeliveriesPerSecond:N0} deliveries/s").ToArray());
        plot.Title("Fan-out: send → delivered at the same rate, platform and bare SignalR broadcast");
        plot.YLabel("ms");
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SaveSvg(path, Width, Height);
        return path;
    }

    /// <summary>fanout-node: p50 and p99 against deliveries/s, the bare hub's and the platform's curves on one chart.</summary>
    private static string FanoutNode(IReadOnlyList<NodeCurve> curves, string path)
    {
        var plot = new Plot();
        var max = 150.0;
        foreach (var curve in curves.Where(c => c.Steps.Count > 0))
            foreach (var (percentile, pattern) in new[] { (50.0, LinePattern.Dotted), (99.0, LinePattern.Solid) })
            {
                var values = curve.Steps.Select(step => step.Latency.Ms(percentile)).ToArray();
                var line = plot.Add.Scatter(curve.Steps.Select(step => step.DeliveriesPerSecond).ToArray(), values);
                line.LegendText = $"{curve.Name} p{percentile:0}";
                line.LinePattern = pattern;
                line.MarkerSize = 7;
                if (curve.Name == "platform")
                    line.Color = percentile == 50 ? Colors.DarkOrange : Colors.OrangeRed;
                else
                    line.Color = percentile == 50 ? Colors.SteelBlue : Colors.Navy;
                max = Math.Max(max, values.Where(v => !double.IsNaN(v)).DefaultIfEmpty(0).Max() * 1.1);
            }
        var target = plot.Add.HorizontalLine(100);
        target.LegendText = "p99 limit (100 ms)";
        target.LinePattern = LinePattern.Dashed;
        target.Color = Colors.Gray;
        plot.Title($"One room of {curves[0].Receivers + 1}, official JS client in Node: latency versus deliveries/s");
        plot.XLabel("deliveries/s (measured at the Node client)");
        plot.YLabel("send → received, ms");
        plot.Axes.SetLimitsY(0, Math.Min(1000, max));
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SaveSvg(path, Width, Height);
        return path;
    }
}
