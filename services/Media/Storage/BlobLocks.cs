using Npgsql;

namespace Platform.Media.Storage;

/// <summary>
/// PostgreSQL advisory locks per blob key, across every replica: storing a file that uses a blob and deleting a blob no
/// file uses take turns, so a blob is never deleted under a file recorded at the same moment.
/// </summary>
public sealed class BlobLocks(NpgsqlDataSource dataSource)
{
    public async Task<IAsyncDisposable> AcquireAsync(IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            // Always in the same order, so two holders of overlapping sets cannot deadlock.
            foreach (var key in keys.Distinct().Order(StringComparer.Ordinal))
            {
                await using var command = new NpgsqlCommand("select pg_advisory_lock(hashtextextended($1, 0))", connection);
                command.Parameters.AddWithValue(key);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            return new Held(connection);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private sealed class Held(NpgsqlConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var command = new NpgsqlCommand("select pg_advisory_unlock_all()", connection);
                await command.ExecuteNonQueryAsync();
            }
            finally
            {
                // Closing the session releases its locks even if the unlock above failed.
                await connection.DisposeAsync();
            }
        }
    }
}
