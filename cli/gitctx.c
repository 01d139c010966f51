/* cli/gitctx.c — a Git URL as the build context, as buildx takes it.
 *
 *   https://github.com/OWNER/REPO.git#REF[:SUBDIR]
 *   https://github.com/OWNER/REPO.git?ref=REF&subdir=SUBDIR[&checksum=SHA]
 *   git://HOST/REPO, git@HOST:REPO, ssh://…, github.com/OWNER/REPO
 *
 * docker/build-push-action's default context is such a URL (the repository at the event's
 * commit), so a workflow that never says `context:` gives one.  The repository is fetched
 * with git (one commit, shallow when the server allows) into a temporary directory that the
 * caller removes after the build.  A token for the host comes as buildx passes it: the secret
 * GIT_AUTH_TOKEN.HOST (or GIT_AUTH_TOKEN), sent as BuildKit does, an "Authorization: basic"
 * header for x-access-token:TOKEN.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/gitctx.h"

bool
cli_git_is_url (const char *s)
{
  const char *end = s + strcspn (s, "#?");
  if (strncmp (s, "git://", 6) == 0 || strncmp (s, "git@", 4) == 0 || strncmp (s, "ssh://", 6) == 0
      || strncmp (s, "github.com/", 11) == 0)
    return true;
  if (strncmp (s, "https://", 8) != 0 && strncmp (s, "http://", 7) != 0)
    return false;
  /* an http(s) URL is a Git repository when its path ends in .git (as buildx decides) */
  return end - s > 4 && memcmp (end - 4, ".git", 4) == 0;
}

/* The host of URL as the GIT_AUTH_TOKEN.HOST secret names it: "github.com" for
 * https://github.com/x.git and git@github.com:x, "127.0.0.1:8080" with a port (a URL's
 * host, as BuildKit and build-push-action take it). */
static char *
url_host (const char *url)
{
  const char *scheme = strstr (url, "://");
  const char *p = scheme ? scheme + 3 : url;
  const char *at = strchr (p, '@');
  if (at && at < p + strcspn (p, "/"))
    p = at + 1; /* user@ */
  return strndup (p, strcspn (p, scheme ? "/#?" : ":/#?"));
}

/* A query value: "ref" from "?ref=x&subdir=y". */
static char *
query_get (const char *query, const char *key)
{
  size_t k = strlen (key);
  for (const char *p = query; p && *p;)
    {
      size_t n = strcspn (p, "&");
      if (n > k && strncmp (p, key, k) == 0 && p[k] == '=')
        return strndup (p + k + 1, n - k - 1);
      p += n;
      if (*p == '&')
        p++;
    }
  return NULL;
}

/* The token for host from --secret specs (id=GIT_AUTH_TOKEN.HOST or id=GIT_AUTH_TOKEN,
 * src=FILE or env=VAR); NULL when none. */
static char *
auth_token (const char *host, const char *const *secrets)
{
  char host_id[300];
  char *found = NULL;
  snprintf (host_id, sizeof host_id, "GIT_AUTH_TOKEN.%s", host);
  for (size_t i = 0; secrets && secrets[i]; i++)
    {
      char *spec = strdup (secrets[i]), *save = NULL, *id = NULL, *src = NULL, *env = NULL;
      for (char *f = strtok_r (spec, ",", &save); f; f = strtok_r (NULL, ",", &save))
        if (strncmp (f, "id=", 3) == 0)
          id = f + 3;
        else if (strncmp (f, "src=", 4) == 0 || strncmp (f, "source=", 7) == 0)
          src = strchr (f, '=') + 1;
        else if (strncmp (f, "env=", 4) == 0)
          env = f + 4;
      if (id && (strcmp (id, host_id) == 0 || (strcmp (id, "GIT_AUTH_TOKEN") == 0 && found == NULL)))
        {
          char buf[4096] = "";
          if (src)
            {
              FILE *fp = fopen (src, "re");
              if (fp)
                {
                  size_t n = fread (buf, 1, sizeof buf - 1, fp);
                  buf[n] = '\0';
                  fclose (fp);
                }
            }
          else if (getenv (env ? env : id))
            snprintf (buf, sizeof buf, "%s", getenv (env ? env : id));
          buf[strcspn (buf, "\r\n")] = '\0';
          if (*buf)
            {
              free (found);
              found = strdup (buf);
            }
        }
      free (spec);
    }
  return found;
}

static char *
base64 (const char *s)
{
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen (s), o = 0;
  char *out = malloc (4 * ((n + 2) / 3) + 1);
  if (out == NULL)
    abort ();
  for (size_t i = 0; i < n; i += 3)
    {
      unsigned v = (unsigned char) s[i] << 16 | (i + 1 < n ? (unsigned char) s[i + 1] << 8 : 0)
                   | (i + 2 < n ? (unsigned char) s[i + 2] : 0);
      out[o++] = tbl[v >> 18 & 63];
      out[o++] = tbl[v >> 12 & 63];
      out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
      out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
  out[o] = '\0';
  return out;
}

/* Run git with args (NULL-terminated); stdout to /dev/null, stderr through.  0 on exit 0. */
static int
git (char *const *args)
{
  pid_t pid = fork ();
  int status;
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      int null = open ("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0)
        dup2 (null, STDOUT_FILENO);
      setenv ("GIT_TERMINAL_PROMPT", "0", 1); /* fail rather than ask for a password */
      execvp ("git", args);
      fprintf (stderr, "slipway: cannot run git (needed for a Git URL context): %s\n", strerror (errno));
      _exit (127);
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : -1;
}

static int
rm_entry (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void) st;
  (void) type;
  (void) ftw;
  remove (path);
  return 0;
}

void
cli_git_cleanup (const char *dir)
{
  if (dir)
    nftw (dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int
cli_git_fetch (const char *spec, const char *const *secrets, char **dir_out, char **context_out)
{
  char *url = strdup (spec), *ref = NULL, *subdir = NULL, *checksum = NULL, *host, *token, *header = NULL;
  char *frag = strchr (url, '#'), *query = strchr (url, '?');
  char tmpl[] = "/tmp/slipway-git.XXXXXX";
  const char *tmp = getenv ("TMPDIR");
  char *dir;
  int r = -1;

  if (frag)
    {
      /* #REF[:SUBDIR] */
      char *colon = strchr (frag + 1, ':');
      *frag = '\0';
      if (colon)
        {
          *colon = '\0';
          subdir = strdup (colon + 1);
        }
      if (frag[1])
        ref = strdup (frag + 1);
    }
  if (query && (frag == NULL || query < frag))
    {
      *query = '\0';
      ref = ref ? ref : query_get (query + 1, "ref");
      subdir = subdir ? subdir : query_get (query + 1, "subdir");
      checksum = query_get (query + 1, "checksum");
    }
  if (strncmp (url, "github.com/", 11) == 0)
    {
      char *full = NULL;
      if (asprintf (&full, "https://%s", url) < 0)
        abort ();
      free (url);
      url = full;
    }
  host = url_host (url);
  token = auth_token (host, secrets);
  if (token)
    {
      char *cred = NULL, *b64;
      if (asprintf (&cred, "x-access-token:%s", token) < 0)
        abort ();
      b64 = base64 (cred);
      if (asprintf (&header, "http.extraheader=Authorization: basic %s", b64) < 0)
        abort ();
      free (b64);
      free (cred);
    }

  if (tmp && *tmp)
    {
      if (asprintf (&dir, "%s/slipway-git.XXXXXX", tmp) < 0)
        abort ();
    }
  else
    dir = strdup (tmpl);
  if (mkdtemp (dir) == NULL)
    {
      cli_fail ("Git context %s: cannot make a temporary directory: %s", spec, strerror (errno));
      free (dir);
      dir = NULL;
      goto out;
    }

  {
    const char *want = checksum ? checksum : ref ? ref : "HEAD";
    char *init[] = { "git", "init", "-q", dir, NULL };
    char *remote[] = { "git", "-C", dir, "remote", "add", "origin", url, NULL };
    /* the token travels in a header, never in the URL or the repository's config */
    char *fetch[12];
    int n = 0;
    fetch[n++] = "git";
    fetch[n++] = "-C";
    fetch[n++] = dir;
    if (header)
      {
        fetch[n++] = "-c";
        fetch[n++] = header;
      }
    fetch[n++] = "fetch";
    fetch[n++] = "-q";
    int depth_at = n;
    fetch[n++] = "--depth=1";
    fetch[n++] = "origin";
    fetch[n++] = (char *) want;
    fetch[n] = NULL;
    char *checkout[] = { "git", "-C", dir, "-c", "advice.detachedHead=false", "checkout", "-q", "FETCH_HEAD", NULL };
    fprintf (stderr, "fetching Git context %s%s%s\n", url, ref || checksum ? " at " : "", ref || checksum ? want : "");
    if (git (init) < 0 || git (remote) < 0)
      {
        cli_fail ("Git context %s: git init failed", spec);
        goto out;
      }
    /* a server without shallow fetches (git's dumb HTTP) gets the whole history */
    if (git (fetch) < 0)
      {
        /* drop --depth=1 */
        memmove (&fetch[depth_at], &fetch[depth_at + 1], (size_t) (n - depth_at) * sizeof *fetch);
        if (git (fetch) == 0)
          goto fetched;

        cli_fail ("Git context %s: cannot fetch %s from %s%s", spec, want, url,
                  token ? "" : " (a private repository needs --secret id=GIT_AUTH_TOKEN.HOST,src=FILE)");
        goto out;
      }
  fetched:
    if (git (checkout) < 0)
      {
        cli_fail ("Git context %s: cannot check out %s", spec, want);
        goto out;
      }
  }
  if (subdir && *subdir && strcmp (subdir, ".") != 0)
    {
      if (strstr (subdir, "..") || *subdir == '/')
        {
          cli_fail ("Git context %s: subdir \"%s\" must stay inside the repository", spec, subdir);
          goto out;
        }
      if (asprintf (context_out, "%s/%s", dir, subdir) < 0)
        abort ();
    }
  else
    *context_out = strdup (dir);
  r = 0;
out:
  if (r < 0 && dir)
    {
      cli_git_cleanup (dir);
      free (dir);
      dir = NULL;
    }
  *dir_out = dir;
  free (url);
  free (ref);
  free (subdir);
  free (checksum);
  free (host);
  if (token)
    {
      memset (token, 0, strlen (token));
      free (token);
    }
  free (header);
  return r;
}
