using MassTransit;
using Microsoft.Extensions.Options;
using Platform.Contracts.Gateway;

namespace Platform.Gateway.Realtime;

/// <summary>
/// Gathers the users who sent a message through this instance (the send's <c>201</c>, seen by
/// <see cref="SendAnswerTransforms"/>), with the latest time each, and every <see cref="RealtimeOptions.ActivityReportInterval"/>
/// tells Presence in one message (<see cref="UsersActive"/>), which moves their last-active times. Presence no longer
/// reads every posted message from the bus for its sender: one message per interval instead of one per send.
/// </summary>
public sealed class ActivityReporter(IBus bus, GatewayInstance instance, IOptions<RealtimeOptions> options, ILogger<ActivityReporter> logger)
    : PeriodicGatherer<Guid, DateTimeOffset>(bus, logger)
{
    public void Active(Guid userId, DateTimeOffset at) => Gather(userId, at);

    protected override TimeSpan Interval => options.Value.ActivityReportInterval;

    protected override string What => "users' activity";

    protected override object Message(IReadOnlyList<KeyValuePair<Guid, DateTimeOffset>> items) => new UsersActive
    {
        InstanceId = instance.Id,
        Items = items.Select(item => new UserActivity { UserId = item.Key, At = item.Value }).ToList(),
    };
}
