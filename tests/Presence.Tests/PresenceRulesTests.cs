using Platform.Presence.Domain;

namespace Platform.Presence.Tests;

public sealed class PresenceRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);

    [Fact]
    public void Connected_IsOnline_WithTheUsersAvailability()
    {
        var evaluation = PresenceRules.Evaluate(new UserStatus("away", "Lunch", null), new Connections(true, null), false, Now, Grace);
        Assert.Equal(new Shown("online", "away", "Lunch"), evaluation.Shown);
        Assert.Null(evaluation.DueAt);
    }

    [Fact]
    public void LastConnectionGone_StaysOnlineUntilTheGraceEnds_ThenOffline()
    {
        var gone = Now.AddSeconds(-4);
        var during = PresenceRules.Evaluate(UserStatus.Default, new Connections(false, gone), true, Now, Grace);
        Assert.Equal("online", during.Shown.Status);
        Assert.Equal(gone + Grace, during.DueAt);

        var after = PresenceRules.Evaluate(UserStatus.Default, new Connections(false, gone), true, gone + Grace, Grace);
        Assert.Equal(Shown.OfflineNoText with { Status = "offline" }, after.Shown with { Text = null });
        Assert.Equal(gone, after.WentOfflineAt);
        Assert.Null(after.DueAt);
    }

    [Fact]
    public void AConnectionThatEndsBeforeTheUserWasSeenOnline_DoesNotMakeThemOnline()
    {
        var evaluation = PresenceRules.Evaluate(UserStatus.Default, new Connections(false, Now.AddSeconds(-1)), false, Now, Grace);
        Assert.Equal("offline", evaluation.Shown.Status);
    }

    [Fact]
    public void Invisible_IsOfflineToOthers_EvenWhenConnected()
    {
        var evaluation = PresenceRules.Evaluate(new UserStatus("invisible", "secret", null), new Connections(true, null), false, Now, Grace);
        Assert.Equal(Shown.OfflineNoText, evaluation.Shown);
        Assert.False(PresenceRules.ShowsActivity(evaluation.Status));
    }

    [Fact]
    public void ExpiredStatus_FallsBackToAvailable_AndAnExpiryAheadIsDue()
    {
        var expired = PresenceRules.Evaluate(new UserStatus("dnd", "Focus", Now), new Connections(true, null), false, Now, Grace);
        Assert.Equal(UserStatus.Default, expired.Status);
        Assert.Equal(new Shown("online", "available", null), expired.Shown);

        var ahead = PresenceRules.Evaluate(new UserStatus("dnd", "Focus", Now.AddMinutes(5)), new Connections(true, null), false, Now, Grace);
        Assert.Equal(Now.AddMinutes(5), ahead.DueAt);
    }

    [Fact]
    public void NeverConnected_IsOffline_WithNoTimeToRecheck()
    {
        var evaluation = PresenceRules.Evaluate(UserStatus.Default, new Connections(false, null), false, Now, Grace);
        Assert.Equal("offline", evaluation.Shown.Status);
        Assert.Null(evaluation.DueAt);
        Assert.Null(evaluation.WentOfflineAt);
    }
}
