using Marten;
using Platform.Notifications.Domain;

namespace Platform.Notifications.Invites;

/// <summary>
/// Mail and texts that must go once although the bus may deliver their event again (invites, reset and verification
/// codes): a <see cref="ProcessedEvent"/> under the event's own key says it was sent. A crash right after sending can
/// still repeat one, once.
/// </summary>
public static class SentOnce
{
    public static async Task<bool> AlreadyAsync(IDocumentSession session, string marker, CancellationToken cancellationToken) =>
        await session.LoadAsync<ProcessedEvent>(marker, cancellationToken) is not null;

    /// <summary>Records it sent; a concurrent delivery that recorded it first is not an error.</summary>
    public static async Task MarkAsync(IDocumentSession session, string marker, TimeProvider time, CancellationToken cancellationToken)
    {
        session.Insert(new ProcessedEvent { Id = marker, At = time.GetUtcNow() });
        try
        {
            await session.SaveChangesAsync(cancellationToken);
        }
        catch (JasperFx.DocumentAlreadyExistsException)
        {
        }
    }
}
