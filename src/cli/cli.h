/*
 * cli.h: the admin command line (DESIGN §5). Parsing is a pure function
 * (unit-tested); running a command opens the data dir and calls core/.
 * Exit status: 0 success, 1 failure, 2 usage error; one line on stderr
 * for every failure.
 */
#ifndef KDC_CLI_H
#define KDC_CLI_H

#include <stddef.h>

#include "base/err.h"

enum kdc_cli_cmd {
	KDC_CMD_NONE = 0,
	KDC_CMD_INIT,
	KDC_CMD_SERVE,
	KDC_CMD_DEVICE_ADD,
	KDC_CMD_DEVICE_IMPORT,
	KDC_CMD_DEVICE_LIST,
	KDC_CMD_DEVICE_SHOW,
	KDC_CMD_DEVICE_REVOKE,
	KDC_CMD_DEVICE_DELETE,
	KDC_CMD_CRED_LIST,
	KDC_CMD_CRED_REVOKE,
	KDC_CMD_MFGCA_ADD,
	KDC_CMD_CERT_SIGN,
	KDC_CMD_CA_EXPORT,
	KDC_CMD_AUDIT_LIST,
	KDC_CMD_AUDIT_VERIFY,
	KDC_CMD_LWM2M_CLIENTS,
	KDC_CMD_LWM2M_BOOTSTRAP_DEVICE,
	KDC_CMD_TLS_REISSUE,
	KDC_CMD_AUDIENCE_ADD,
	KDC_CMD_AUDIENCE_LIST,
	KDC_CMD_AUDIENCE_SHOW,
	KDC_CMD_ACE_RS_ADD,
	KDC_CMD_ACE_RS_LIST,
	KDC_CMD_ACE_GRANT,
	KDC_CMD_ACE_REVOKE_GRANT,
	KDC_CMD_ACE_TOKENS,
	KDC_CMD_ACE_REVOKE_TOKEN,
	KDC_CMD_ACE_PUBKEY,
	KDC_CMD_OCF_DISCOVER,
	KDC_CMD_OCF_ONBOARD,
	KDC_CMD_OCF_PAIR,
	KDC_CMD_OCF_CERT,
	KDC_CMD_OCF_ACL_ADD,
	KDC_CMD_OCF_DEVICES,
	KDC_CMD_OCF_OFFBOARD,
	KDC_CMD_OCF_RENEW,
	KDC_CMD_USER_ADD,
	KDC_CMD_USER_CERT,
	KDC_CMD_USER_LIST,
	KDC_CMD_USER_PASSWD,
};

#define KDC_CLI_POS_MAX	18	/* ace grant CLIENT AUD + 16 scopes */

struct kdc_cli_args {
	enum kdc_cli_cmd	 cmd;
	const char		*dir;		/* --dir, else $IOTKDC_DIR, else ./var */
	int			 json;		/* --json */
	int			 help;		/* --help / -h */
	int			 version;	/* --version */
	const char		*pos[KDC_CLI_POS_MAX];	/* positional arguments */
	int			 npos;
	const char		*psk_identity;	/* device add */
	const char		*psk;		/* device add: hex */
	const char		*psk_file;	/* device add: hex in a file,
						 * "-" standard input */
	const char		*rpk;		/* device add: file */
	int			 cert;		/* device add --cert */
	const char		*profile;	/* device add */
	const char		*device;	/* cred list, cert sign */
	const char		*ca_key;	/* init --ca-key */
	long			 days;		/* cert sign --days; -1 unset */
	long			 expiring;	/* cred list --expiring; -1 unset */
	const char		*kind;		/* audience add --kind */
	const char		*uri;		/* audience add --uri */
	long			 ssid;		/* audience add --ssid; -1 unset */
	const char		*audience;	/* cert sign --audience */
	const char		*key_file;	/* ace rs add: hex key in a file */
	const char		*pubkey;	/* ace rs add: SPKI file */
	int			 refresh;	/* ace grant --refresh */
	int			 active;	/* ace tokens --active */
	int			 cose;		/* ace pubkey --cose */
	int			 pem;		/* ace pubkey --pem */
	const char		*iface;		/* ocf: --iface IF */
	long			 window;	/* ocf: --window MS; -1 unset */
	const char		*otm;		/* ocf onboard --otm */
	const char		*pin_file;	/* ocf onboard --pin-file */
	const char		*subject;	/* ocf acl add --subject */
	const char		*href;		/* ocf acl add --href A[,B...] */
	const char		*perm;		/* ocf acl add --perm crudn */
	int			 force;		/* ocf offboard --force */
	int			 unauthenticated; /* ocf onboard --otm jw */
	long			 within;	/* ocf renew --within DAYS; -1 unset */
	const char		*group;		/* user add --group G[,G...] */
};

/* Parse argv (argv[0] is the program). Borrows argv's strings. On a usage
 * error returns KDC_ERR_INVALID_ARG with a one-line reason in err. */
kdc_err	kdc_cli_parse(int argc, char **argv, struct kdc_cli_args *a,
	    char *err, size_t err_len);
/* The --help text (for cmd, or the overview for KDC_CMD_NONE). */
const char *kdc_cli_usage(enum kdc_cli_cmd cmd);
/* Run a parsed command; returns the process exit status. */
int	kdc_cli_run(const struct kdc_cli_args *a);

#endif
