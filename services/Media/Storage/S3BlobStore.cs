using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Platform.Media.Storage;

/// <summary>Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2...). Reads are ranged GETs, so downloads can seek.</summary>
public sealed class S3BlobStore(IAmazonS3 s3, string bucket) : IBlobStore
{
    public static S3BlobStore Create(StorageOptions options)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.S3ForcePathStyle,
            // Checksums only where S3 requires them: many S3-compatible stores do not understand the SDK's default
            // streaming (aws-chunked) checksums. Integrity is ours anyway: keys are the SHA-256 of the bytes.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (!string.IsNullOrWhiteSpace(options.S3ServiceUrl))
            config.ServiceURL = options.S3ServiceUrl;
        if (!string.IsNullOrWhiteSpace(options.S3Region))
            config.AuthenticationRegion = options.S3Region;
        var client = string.IsNullOrWhiteSpace(options.S3AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.S3AccessKey, options.S3SecretKey), config);
        return new S3BlobStore(client, options.S3Bucket);
    }

    public async Task PutAsync(string key, Stream content, string contentType, CancellationToken cancellationToken)
    {
        if (await ExistsAsync(key, cancellationToken))
            return;
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket,
            Key = key,
            InputStream = content,
            ContentType = contentType,
            AutoCloseStream = false,
            // A plain signed body rather than aws-chunked, which S3-compatible stores do not all decode.
            UseChunkEncoding = false,
        }, cancellationToken);
    }

    public async Task<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var metadata = await s3.GetObjectMetadataAsync(bucket, key, cancellationToken);
            return new RangedObjectStream(s3, bucket, key, metadata.ContentLength);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) => s3.DeleteObjectAsync(bucket, key, cancellationToken);

    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await s3.GetObjectMetadataAsync(bucket, key, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>A read-only stream that opens a GET from the current position to the end, and a new one after each seek.</summary>
    private sealed class RangedObjectStream(IAmazonS3 s3, string bucket, string key, long length) : Stream
    {
        private GetObjectResponse? _response;
        private Stream? _body;
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => Seek(value, SeekOrigin.Begin);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= length || buffer.Length == 0)
                return 0;
            if (_body is null)
            {
                _response = await s3.GetObjectAsync(new GetObjectRequest
                {
                    BucketName = bucket,
                    Key = key,
                    ByteRange = new ByteRange(_position, length - 1),
                }, cancellationToken);
                _body = _response.ResponseStream;
            }
            var read = await _body.ReadAsync(buffer, cancellationToken);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override long Seek(long offset, SeekOrigin origin)
        {
            var target = origin switch
            {
                SeekOrigin.Begin => offset,
                SeekOrigin.Current => _position + offset,
                _ => length + offset,
            };
            if (target != _position)
            {
                ResetBody();
                _position = target;
            }
            return _position;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                ResetBody();
            base.Dispose(disposing);
        }

        private void ResetBody()
        {
            _body?.Dispose();
            _response?.Dispose();
            _body = null;
            _response = null;
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
