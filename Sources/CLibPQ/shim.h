#ifndef FOLLOWUP_CLIBPQ_SHIM_H
#define FOLLOWUP_CLIBPQ_SHIM_H

#include <libpq-fe.h>

/* PG_DIAG_* are char literals ('C', 'M', ...) that Swift imports awkwardly; name them. */
static inline int followup_pg_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int followup_pg_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int followup_pg_diag_message_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int followup_pg_diag_message_hint(void) { return PG_DIAG_MESSAGE_HINT; }
static inline int followup_pg_diag_constraint_name(void) { return PG_DIAG_CONSTRAINT_NAME; }
static inline int followup_pg_diag_table_name(void) { return PG_DIAG_TABLE_NAME; }
static inline int followup_pg_diag_column_name(void) { return PG_DIAG_COLUMN_NAME; }
static inline int followup_pg_diag_severity(void) { return PG_DIAG_SEVERITY_NONLOCALIZED; }

#endif
