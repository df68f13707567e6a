using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Platform.Identity.Data.Migrations
{
    /// <summary>
    /// The archives of <c>POST /api/v1/users/me/exports</c> (Features/DataExports.cs). Written and read with SQL only, not
    /// part of the EF model: the model snapshot does not change.
    /// </summary>
    [DbContext(typeof(IdentityDb))]
    [Migration("20261206040000_DataExports")]
    public partial class DataExports : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE identity.data_exports (
                    "Id" uuid PRIMARY KEY,
                    "UserId" uuid NOT NULL,
                    "Status" text NOT NULL,
                    "CreatedAt" timestamptz NOT NULL,
                    "CompletedAt" timestamptz,
                    "ExpiresAt" timestamptz,
                    "Error" text,
                    "Archive" bytea);
                CREATE INDEX ix_data_exports_user ON identity.data_exports ("UserId");
                CREATE UNIQUE INDEX ix_data_exports_one_pending ON identity.data_exports ("UserId") WHERE "Status" = 'pending';
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TABLE identity.data_exports;");
        }
    }
}
