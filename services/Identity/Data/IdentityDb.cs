using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Platform.Identity.Domain;

namespace Platform.Identity.Data;

/// <summary>
/// Identity's store: accounts (ASP.NET Core Identity), OpenIddict's applications, authorizations and tokens,
/// contacts, invites, the outbox and the Data Protection key ring, all in the <c>identity</c> schema.
/// </summary>
public sealed class IdentityDb(DbContextOptions<IdentityDb> options)
    : IdentityDbContext<User, IdentityRole<Guid>, Guid>(options), IDataProtectionKeyContext
{
    public const string Schema = "identity";

    public DbSet<Contact> Contacts => Set<Contact>();

    public DbSet<Invite> Invites => Set<Invite>();

    public DbSet<Block> Blocks => Set<Block>();

    public DbSet<PrivacySetting> PrivacySettings => Set<PrivacySetting>();

    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();

    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<SignInCounter> SignInCounters => Set<SignInCounter>();

    public DbSet<SignInAddress> SignInAddresses => Set<SignInAddress>();

    public DbSet<PasswordResetCode> PasswordResetCodes => Set<PasswordResetCode>();

    public DbSet<VerificationCode> VerificationCodes => Set<VerificationCode>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.HasDefaultSchema(Schema);
        builder.UseOpenIddict();

        builder.Entity<User>(user =>
        {
            user.ToTable("users");
            user.Property(u => u.DisplayName).HasMaxLength(User.DisplayNameMaxLength).IsRequired();
            user.Property(u => u.StatusText).HasMaxLength(User.StatusTextMaxLength);
            user.Property(u => u.PhoneNumber).HasMaxLength(20);
            user.Property(u => u.EmailHash).HasMaxLength(64);
            user.Property(u => u.PhoneHash).HasMaxLength(64);
            // A verified address has one owner (a concurrent second verification fails here too); unverified ones may be
            // held by several accounts, so that nobody can block an address by registering it first.
            user.HasIndex(u => u.NormalizedEmail).IsUnique().HasFilter("\"NormalizedEmail\" IS NOT NULL AND \"EmailConfirmed\"").HasDatabaseName("ix_users_email");
            user.HasIndex(u => u.PhoneNumber).IsUnique().HasFilter("\"PhoneNumber\" IS NOT NULL AND \"PhoneNumberConfirmed\"").HasDatabaseName("ix_users_phone");
            user.HasIndex(u => u.EmailHash).HasDatabaseName("ix_users_email_hash");
            user.HasIndex(u => u.PhoneHash).HasDatabaseName("ix_users_phone_hash");
        });
        builder.Entity<IdentityRole<Guid>>().ToTable("roles");
        builder.Entity<IdentityUserRole<Guid>>().ToTable("user_roles");
        builder.Entity<IdentityUserClaim<Guid>>().ToTable("user_claims");
        builder.Entity<IdentityUserLogin<Guid>>().ToTable("user_logins");
        builder.Entity<IdentityUserToken<Guid>>().ToTable("user_tokens");
        builder.Entity<IdentityRoleClaim<Guid>>().ToTable("role_claims");

        builder.Entity<Contact>(contact =>
        {
            contact.ToTable("contacts");
            contact.HasKey(c => new { c.OwnerId, c.ContactUserId });
            contact.Property(c => c.Source).HasMaxLength(16);
            contact.HasOne<User>().WithMany().HasForeignKey(c => c.OwnerId).OnDelete(DeleteBehavior.Cascade);
            contact.HasOne<User>().WithMany().HasForeignKey(c => c.ContactUserId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<Block>(block =>
        {
            block.ToTable("blocks");
            block.HasKey(b => new { b.OwnerId, b.BlockedUserId });
            // "Who blocked me" is asked as often as "whom did I block": a block works both ways.
            block.HasIndex(b => b.BlockedUserId).HasDatabaseName("ix_blocks_blocked_user");
            block.HasOne<User>().WithMany().HasForeignKey(b => b.OwnerId).OnDelete(DeleteBehavior.Cascade);
            block.HasOne<User>().WithMany().HasForeignKey(b => b.BlockedUserId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<PrivacySetting>(privacy =>
        {
            privacy.ToTable("privacy_settings");
            privacy.HasKey(p => p.UserId);
            privacy.Property(p => p.LastSeen).HasMaxLength(16);
            privacy.Property(p => p.WhoCanAdd).HasMaxLength(16);
            privacy.HasOne<User>().WithMany().HasForeignKey(p => p.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<Invite>(invite =>
        {
            invite.ToTable("invites");
            invite.HasKey(i => i.Id);
            invite.Property(i => i.TokenHash).HasMaxLength(64);
            invite.HasIndex(i => i.TokenHash).IsUnique();
            invite.Property(i => i.Email).HasMaxLength(256);
            invite.Property(i => i.Phone).HasMaxLength(20);
            invite.HasOne<User>().WithMany().HasForeignKey(i => i.InvitedBy).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<OutboxMessage>(message =>
        {
            message.ToTable("outbox");
            message.HasKey(m => m.Id);
            message.Property(m => m.Type).HasMaxLength(200);
            message.Property(m => m.Payload).HasColumnType("jsonb");
            message.HasIndex(m => m.Id).HasFilter("\"PublishedAt\" IS NULL").HasDatabaseName("ix_outbox_unpublished");
        });

        builder.Entity<DataProtectionKey>().ToTable("data_protection_keys");

        builder.Entity<SignInCounter>(counter =>
        {
            counter.ToTable("sign_in_counters");
            counter.HasKey(c => c.Key);
            counter.Property(c => c.Key).HasMaxLength(SignInCounter.KeyMaxLength);
            counter.HasIndex(c => c.LastFailureAt).HasDatabaseName("ix_sign_in_counters_last_failure");
        });

        builder.Entity<PasswordResetCode>(code =>
        {
            code.ToTable("password_reset_codes");
            code.HasKey(c => c.UserId);
            code.Property(c => c.CodeHash).HasMaxLength(64);
            code.HasOne<User>().WithMany().HasForeignKey(c => c.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<VerificationCode>(code =>
        {
            code.ToTable("verification_codes");
            code.HasKey(c => new { c.UserId, c.Channel });
            code.Property(c => c.Channel).HasMaxLength(8);
            code.Property(c => c.Address).HasMaxLength(ContactAddresses.EmailMaxLength);
            code.Property(c => c.CodeHash).HasMaxLength(64);
            code.HasOne<User>().WithMany().HasForeignKey(c => c.UserId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<SignInAddress>(address =>
        {
            address.ToTable("sign_in_addresses");
            address.HasKey(a => new { a.UserId, a.Address });
            address.Property(a => a.Address).HasMaxLength(64);
            address.HasOne<User>().WithMany().HasForeignKey(a => a.UserId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}

public sealed class User : IdentityUser<Guid>
{
    public const int DisplayNameMaxLength = 64;
    public const int StatusTextMaxLength = 140;

    public string DisplayName { get; set; } = "";

    public Guid? AvatarMediaId { get; set; }

    public string? StatusText { get; set; }

    /// <summary>SHA-256 (hex) of the normalised email, so hashed contact imports are an index lookup.</summary>
    public string? EmailHash { get; set; }

    /// <summary>SHA-256 (hex) of the E.164 phone number.</summary>
    public string? PhoneHash { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? DisabledAt { get; set; }

    public Guid? DisabledBy { get; set; }

    /// <summary>"Sign out everywhere": tokens and sign-in sessions from before this are refused.</summary>
    public DateTimeOffset? SessionsRevokedAt { get; set; }

    public bool IsDisabled => DisabledAt is not null;

    /// <summary>A bot (<c>POST /api/v1/bots</c>): no password; it signs in with its own client credentials.</summary>
    public bool IsBot { get; set; }
}

/// <summary>One direction of a contact relation: <see cref="OwnerId"/> has <see cref="ContactUserId"/> in their list.</summary>
public sealed class Contact
{
    public Guid OwnerId { get; set; }

    public Guid ContactUserId { get; set; }

    /// <summary><c>import</c> or <c>invite</c>.</summary>
    public string Source { get; set; } = "";

    public DateTimeOffset AddedAt { get; set; }
}

/// <summary><see cref="OwnerId"/> blocked <see cref="BlockedUserId"/>; the block works both ways.</summary>
public sealed class Block
{
    public Guid OwnerId { get; set; }

    public Guid BlockedUserId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A user's privacy settings; a user without a row has the defaults (<see cref="Default"/>).</summary>
public sealed class PrivacySetting
{
    public const string Everyone = "everyone";
    public const string Contacts = "contacts";
    public const string Nobody = "nobody";

    public Guid UserId { get; set; }

    /// <summary>Who sees my online state and last-active time: <c>everyone</c> (whom presence allows), <c>contacts</c>, <c>nobody</c>.</summary>
    public string LastSeen { get; set; } = Everyone;

    /// <summary>False: my read positions are not shown to others.</summary>
    public bool ReadReceipts { get; set; } = true;

    /// <summary>Who may add me to groups and channels: <c>everyone</c> or <c>contacts</c>.</summary>
    public string WhoCanAdd { get; set; } = Everyone;

    public DateTimeOffset UpdatedAt { get; set; }

    public static PrivacySetting Default(Guid userId) => new() { UserId = userId };
}

public sealed class Invite
{
    public Guid Id { get; set; }

    public Guid InvitedBy { get; set; }

    public string? Email { get; set; }

    public string? Phone { get; set; }

    /// <summary>SHA-256 (hex) of the token: a leaked table does not hand out valid invites.</summary>
    public string TokenHash { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public Guid? AcceptedBy { get; set; }

    public DateTimeOffset? AcceptedAt { get; set; }
}

/// <summary>
/// Failed sign-ins counted under one key (an account, a client address, or the pair), and until when further
/// attempts under it are refused without checking the password.
/// </summary>
public sealed class SignInCounter
{
    public const int KeyMaxLength = 400;

    public string Key { get; set; } = "";

    public int Failures { get; set; }

    public DateTimeOffset LastFailureAt { get; set; }

    public DateTimeOffset? BlockedUntil { get; set; }
}

/// <summary>The one outstanding password reset code of an account, stored only as a hash.</summary>
public sealed class PasswordResetCode
{
    public Guid UserId { get; set; }

    public string CodeHash { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>Wrong codes presented; at the limit the code is void.</summary>
    public int Attempts { get; set; }
}

/// <summary>
/// The one outstanding verification code of an account for one channel (<c>email</c> or <c>phone</c>), stored only as a
/// hash, for the address it was sent to: it works only while the account still holds that address.
/// </summary>
public sealed class VerificationCode
{
    public Guid UserId { get; set; }

    public string Channel { get; set; } = "";

    /// <summary>The normalised email or E.164 phone number the code was sent to.</summary>
    public string Address { get; set; } = "";

    public string CodeHash { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>Wrong codes presented; at the limit the code is void.</summary>
    public int Attempts { get; set; }
}

/// <summary>A client address (an IPv4 address or an IPv6 /64) the account has signed in from with its password.</summary>
public sealed class SignInAddress
{
    public Guid UserId { get; set; }

    public string Address { get; set; } = "";

    public DateTimeOffset LastSuccessAt { get; set; }
}

/// <summary>An integration event written in the same transaction as the change it reports; the relay publishes it.</summary>
public sealed class OutboxMessage
{
    public Guid Id { get; set; }

    public string Type { get; set; } = "";

    public string Payload { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? PublishedAt { get; set; }

    public int Attempts { get; set; }
}
