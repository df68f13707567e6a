using System.Diagnostics;
using k8s;
using k8s.Models;

namespace Platform.Deploy.Tests;

/// <summary>An overlay of deploy/k8s rendered by kustomize and parsed into KubernetesClient's typed models.</summary>
public sealed class Manifests
{
    private Manifests(string overlay, string yaml, IReadOnlyList<object> objects)
    {
        Overlay = overlay;
        Yaml = yaml;
        Objects = objects;
    }

    public string Overlay { get; }

    public string Yaml { get; }

    public IReadOnlyList<object> Objects { get; }

    public IEnumerable<T> All<T>() => Objects.OfType<T>();

    public T One<T>(string name) where T : IKubernetesObject<V1ObjectMeta> =>
        All<T>().SingleOrDefault(o => o.Metadata.Name == name)
        ?? throw new Xunit.Sdk.XunitException($"{Overlay}: no {typeof(T).Name} named {name}.");

    /// <summary>Deployments and StatefulSets: what owns pods.</summary>
    public IEnumerable<Workload> Workloads =>
        All<V1Deployment>().Select(d => new Workload("Deployment", d.Metadata.Name, d.Spec.Template))
            .Concat(All<V1StatefulSet>().Select(s => new Workload("StatefulSet", s.Metadata.Name, s.Spec.Template)));

    /// <summary>The platform's own services (base/), as opposed to data stores and telemetry backends.</summary>
    public IEnumerable<V1Deployment> PlatformDeployments =>
        All<V1Deployment>().Where(d => Repository.Services.Contains(d.Metadata.Name));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Manifests>> Cache = new();

    /// <summary>The overlay (a folder under deploy/k8s), rendered once per test run.</summary>
    public static Manifests Render(string relativePath) =>
        Cache.GetOrAdd(relativePath, path => new Lazy<Manifests>(() => RenderNow(path))).Value;

    private static Manifests RenderNow(string relativePath)
    {
        var yaml = Kustomize.Build(Path.Combine(Repository.Root, "deploy", "k8s", relativePath));
        return new Manifests(relativePath, yaml, KubernetesYaml.LoadAllFromString(yaml, CustomResources.TypeMap, strict: true));
    }

    /// <summary>The container's environment as the kubelet builds it: envFrom ConfigMaps, then env entries.</summary>
    /// <param name="secrets">Resolves secretKeyRefs (name, key) to values; unresolved, they stay references.</param>
    /// <param name="overrides">Values put in place of settings the ConfigMaps provide (each must be provided).</param>
    public IReadOnlyDictionary<string, EnvValue> Environment(
        V1Container container, Func<string, string, string>? secrets = null, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var result = new Dictionary<string, EnvValue>();
        foreach (var source in container.EnvFrom ?? [])
        {
            Assert.True(source.ConfigMapRef is not null, $"{container.Name}: envFrom other than a ConfigMap");
            var map = One<V1ConfigMap>(source.ConfigMapRef.Name);
            foreach (var (key, value) in map.Data ?? new Dictionary<string, string>())
                result[key] = new EnvValue(value, null, null);
        }
        foreach (var (key, value) in overrides ?? new Dictionary<string, string>())
        {
            Assert.True(result.ContainsKey(key), $"{container.Name}: the manifests do not provide {key}");
            result[key] = new EnvValue(value, null, null);
        }
        foreach (var variable in container.Env ?? [])
        {
            if (variable.ValueFrom?.SecretKeyRef is { } secret)
                result[variable.Name] = secrets is null ? new EnvValue(null, secret.Name, secret.Key) : new EnvValue(secrets(secret.Name, secret.Key), null, null);
            else if (variable.ValueFrom?.ConfigMapKeyRef is { } key)
                result[variable.Name] = new EnvValue(One<V1ConfigMap>(key.Name).Data[key.Key], null, null);
            else if (variable.ValueFrom?.FieldRef is not null)
                result[variable.Name] = new EnvValue("(field)", null, null);
            else
                result[variable.Name] = new EnvValue(Expand(variable.Value ?? "", result, container.Name), null, null);
        }
        return result;
    }

    // $(NAME) references must name variables defined before (the kubelet leaves unknown ones as they are).
    private static string Expand(string value, Dictionary<string, EnvValue> defined, string container) =>
        System.Text.RegularExpressions.Regex.Replace(value, @"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", match =>
        {
            var name = match.Groups[1].Value;
            Assert.True(defined.TryGetValue(name, out var referenced), $"{container}: $({name}) is used before it is defined");
            return referenced!.Value ?? $"<secret {referenced.Secret}/{referenced.Key}>";
        });
}

public sealed record Workload(string Kind, string Name, V1PodTemplateSpec Template)
{
    public bool Selects(IDictionary<string, string>? selector) =>
        selector is { Count: > 0 } && selector.All(pair => Template.Metadata.Labels?.TryGetValue(pair.Key, out var value) == true && value == pair.Value);
}

/// <summary>A literal value (after $(VAR) expansion), or a reference to a secret's key.</summary>
public sealed record EnvValue(string? Value, string? Secret, string? Key);

public static class Kustomize
{
    /// <summary>
    /// Runs <c>kustomize build</c>, or <c>kubectl kustomize</c> (kubectl 1.27+ carries kustomize v5);
    /// <c>PLATFORM_KUSTOMIZE</c> names another binary. scripts/common.sh (ensure_kustomize) installs kubectl.
    /// </summary>
    public static string Build(string directory)
    {
        var configured = System.Environment.GetEnvironmentVariable("PLATFORM_KUSTOMIZE");
        (string File, string[] Args) command = configured is { Length: > 0 } ? (configured, ["build", directory])
            : OnPath("kustomize") ? ("kustomize", ["build", directory])
            : OnPath("kubectl") ? ("kubectl", ["kustomize", directory])
            : throw new InvalidOperationException("Neither kustomize nor kubectl is on PATH: run ./platform test (it installs kubectl) or install kustomize 5.");
        var info = new ProcessStartInfo(command.File, command.Args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{command.File} {string.Join(' ', command.Args)} failed:\n{error.Result}");
        return output.Result;
    }

    private static bool OnPath(string name) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Any(folder => folder.Length > 0 && File.Exists(Path.Combine(folder, name)));
}

public static class Repository
{
    public static readonly string[] Services = ["gateway", "identity", "messaging", "presence", "notifications", "media"];

    public static string Root { get; } = Find();

    public static string ServiceFolder(string service) =>
        Path.Combine(Root, "services", char.ToUpperInvariant(service[0]) + service[1..]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Platform.sln not found above " + AppContext.BaseDirectory);
    }
}
