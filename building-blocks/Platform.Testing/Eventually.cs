namespace Platform.Testing;

/// <summary>Awaits a condition that becomes true asynchronously, failing the test when the timeout passes.</summary>
public static class Eventually
{
    public static async Task<T> Returns<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string because)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var last = default(T);
        while (true)
        {
            last = await probe();
            if (condition(last))
                return last;
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Not true within {timeout.TotalSeconds:0.#} s: {because}. Last value: {last}");
            }
        }
    }
}
