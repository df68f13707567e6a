using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Platform.Testing;

/// <summary>
/// A signal instead of a sleep: completes once a service in-process has consumed (its consumers returned) the given
/// number of messages that match. Start it before publishing; the task fails the test when the timeout passes.
/// </summary>
public static class Consumed
{
    public static async Task WhenAsync<TMessage>(IServiceProvider services, Func<TMessage, bool> match, int count, Func<Task> publish, TimeSpan? timeout = null)
        where TMessage : class
    {
        var observer = new CountingObserver<TMessage>(match, count);
        using var _ = new Handle(services.GetRequiredService<IBus>().ConnectConsumeObserver(observer));
        await publish();
        var wait = timeout ?? TimeSpan.FromSeconds(15);
        try
        {
            await observer.Done.Task.WaitAsync(wait);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{observer.Seen} of {count} {typeof(TMessage).Name} consumed within {wait.TotalSeconds:0.#} s.");
        }
    }

    private sealed class Handle(ConnectHandle handle) : IDisposable
    {
        public void Dispose() => handle.Disconnect();
    }

    private sealed class CountingObserver<TMessage>(Func<TMessage, bool> match, int count) : IConsumeObserver where TMessage : class
    {
        private int _seen;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Seen => Volatile.Read(ref _seen);

        public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context) where T : class
        {
            if (context.Message is TMessage message && match(message) && Interlocked.Increment(ref _seen) >= count)
                Done.TrySetResult();
            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }
}
