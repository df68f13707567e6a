using Platform.ServiceDefaults;

namespace Platform.Gateway.Realtime;

/// <summary>A user who signed out everywhere or was disabled loses their live connections on this instance at once.</summary>
public sealed class RevokedUserDisconnector(ConnectionIndex connections) : IUserSessionsEndedListener
{
    public void SessionsEnded(Guid userId, string reason) => connections.DisconnectUser(userId, reason);
}
