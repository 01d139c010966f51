#!/usr/bin/env bash
# Attestations: provenance and SBOM attached as buildx attaches them, read back by buildx
# 0.29's own reader (`docker buildx imagetools inspect --format '{{json .Provenance}}'`,
# which needs no daemon), plus the storage layout checked directly in the registry.
. tests/lib.sh
unset BUILDX_NO_DEFAULT_ATTESTATIONS # this script tests the default too
dir=$(scratch_dir)

# buildx: the reference reader.  Unpacked by the bench's setup script when missing.
DOCKER=/opt/docker-sid/usr/bin/docker
BUILDX_PLUGIN=/opt/docker-sid/usr/libexec/docker/cli-plugins/docker-buildx
if [ ! -x "$BUILDX_PLUGIN" ]; then
  for s in "$SHARED/bench/setup-buildx.sh" "$TOP/../../shared/bench/setup-buildx.sh"; do
    [ -f "$s" ] && { timeout 600 bash "$s" >/dev/null 2>&1; break; }
  done
fi
if [ ! -x "$BUILDX_PLUGIN" ] || [ ! -x "$DOCKER" ]; then
  fail "buildx 0.29 is available to read attestations back" "no $BUILDX_PLUGIN (see tests/deps.sh)"
  exit 0
fi
mkdir -p "$dir/docker/cli-plugins"
ln -s "$BUILDX_PLUGIN" "$dir/docker/cli-plugins/docker-buildx"
# a credential the reader may use; it must never show up in an attestation
printf '{"auths":{"registry.invalid":{"auth":"%s"}}}\n' "$(printf 'ci-user:Cr3d-n0t-in-att' | base64)" \
  > "$dir/docker/config.json"
export DOCKER_CONFIG=$dir/docker
inspect() { timeout 60 "$DOCKER" buildx imagetools inspect "$@"; }

start_registry "$dir/registry" || { fail "registry starts"; exit 0; }
bb=$(tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest) || { fail "base image pushed"; exit 0; }
build() { timeout 300 "$SLIPWAY" build --progress=plain --state-dir "$dir/state" "$@"; }
raw() { skopeo inspect --tls-verify=false --raw "docker://$1"; }
blob() { curl -sf "http://$REGISTRY/v2/$1/blobs/$2"; }
# every blob of every attestation manifest a tag's index lists, concatenated
attestation_blobs() {
  local repo=${1#"$REGISTRY"/} m l
  repo=${repo%:*}
  for m in $(raw "$1" | jq -r '.manifests[] | select(.annotations["vnd.docker.reference.type"] == "attestation-manifest") | .digest'); do
    curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/$repo/manifests/$m"
    for l in $(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/$repo/manifests/$m" | jq -r '.config.digest, .layers[].digest'); do
      blob "$repo" "$l"
    done
  done
}

export -f attestation_blobs raw blob; export REGISTRY

ctx=$dir/ctx; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
ARG FOO
RUN --mount=type=secret,id=tok cat /run/secrets/tok | wc -c > /toklen && echo "\$FOO" > /foo
DF
export SECRET_TOKEN=s3cr3t-v4lue-never-attested

# ---- buildx's default: provenance mode=min on a push ----------------------------------
check "a default push succeeds" build -t "$REGISTRY/t/def:v1" --push --build-arg FOO=bar-value \
  --secret id=tok,env=SECRET_TOKEN "$ctx"
ix=$(raw "$REGISTRY/t/def:v1")
check "with the default provenance a single-platform push is an index" \
  jq -e '.mediaType == "application/vnd.oci.image.index.v1+json" and (.manifests | length) == 2' <<<"$ix"
check "the attestation manifest comes after the image, unknown/unknown, with BuildKit's annotations" jq -e '
  .manifests[0].platform == {"architecture":"amd64","os":"linux"} and
  .manifests[1].platform == {"architecture":"unknown","os":"unknown"} and
  .manifests[1].annotations["vnd.docker.reference.type"] == "attestation-manifest" and
  .manifests[1].annotations["vnd.docker.reference.digest"] == .manifests[0].digest' <<<"$ix"
att=$(jq -r '.manifests[1].digest' <<<"$ix")
am=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/t/def/manifests/$att")
check "its layer is an in-toto statement annotated with the predicate type" jq -e '
  .config.mediaType == "application/vnd.oci.image.config.v1+json" and (.layers | length) == 1 and
  .layers[0].mediaType == "application/vnd.in-toto+json" and
  .layers[0].annotations["in-toto.io/predicate-type"] == "https://slsa.dev/provenance/v1"' <<<"$am"
cfg=$(blob t/def "$(jq -r .config.digest <<<"$am")")
check "its config is an image config for unknown/unknown listing the statement" jq -e --arg l "$(jq -r '.layers[0].digest' <<<"$am")" '
  .architecture == "unknown" and .os == "unknown" and .rootfs.diff_ids == [$l]' <<<"$cfg"
st=$(blob t/def "$(jq -r '.layers[0].digest' <<<"$am")")
check "the statement is in-toto v1 about the image manifest, named as BuildKit names it" jq -e \
  --arg d "$(jq -r '.manifests[0].digest | ltrimstr("sha256:")' <<<"$ix")" --arg n "pkg:docker/$REGISTRY/t/def@v1?platform=linux%2Famd64" '
  ._type == "https://in-toto.io/Statement/v1" and .predicateType == "https://slsa.dev/provenance/v1" and
  .subject == [{"name": $n, "digest": {"sha256": $d}}]' <<<"$st"

prov=$(inspect --format '{{json .Provenance}}' "$REGISTRY/t/def:v1" 2>&1)
check "buildx reads the provenance back" jq -e '.SLSA.buildDefinition' <<<"$prov"
check "buildx: buildType, frontend, Dockerfile path, builder platform" jq -e '
  .SLSA.buildDefinition.buildType == "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md" and
  .SLSA.buildDefinition.externalParameters.request.frontend == "dockerfile.v0" and
  .SLSA.buildDefinition.externalParameters.configSource.path == "Dockerfile" and
  .SLSA.buildDefinition.internalParameters.builderPlatform == "linux/amd64" and
  ([.SLSA.buildDefinition.externalParameters.request.locals[].name] == ["context","dockerfile"])' <<<"$prov"
check "buildx: the base image is a resolved dependency, by purl and the digest it resolved to" jq -e \
  --arg u "pkg:docker/$REGISTRY/base/busybox@latest?platform=linux%2Famd64" --arg d "${bb#sha256:}" '
  .SLSA.buildDefinition.resolvedDependencies == [{"uri": $u, "digest": {"sha256": $d}}]' <<<"$prov"
check "buildx: run details (invocation ID, start before finish, completeness)" jq -e '
  (.SLSA.runDetails.metadata.invocationID | test("^[0-9a-z]{25}$")) and
  .SLSA.runDetails.metadata.startedOn <= .SLSA.runDetails.metadata.finishedOn and
  .SLSA.runDetails.metadata.buildkit_completeness == {"request": false, "resolvedDependencies": false}' <<<"$prov"
check "mode=min: no build argument values" bash -c '! grep -q bar-value <<<"$1" && ! jq -e ".SLSA.buildDefinition.externalParameters.request.args" <<<"$1" >/dev/null' _ "$prov"
check "no secret value and no credential in the attestation blobs" bash -c '
  b=$(attestation_blobs "$1"); [ -n "$b" ] && ! grep -qE "s3cr3t-v4lue|Cr3d-n0t|$(printf ci-user:Cr3d-n0t-in-att | base64)" <<<"$b"' _ "$REGISTRY/t/def:v1"
# ---- turning it off -------------------------------------------------------------------
check "--provenance=false push" build -t "$REGISTRY/t/off:v1" --push --provenance=false \
  --secret id=tok,env=SECRET_TOKEN "$ctx"
check "--provenance=false gives a plain manifest" bash -c \
  'raw "$1" | jq -e ".mediaType == \"application/vnd.oci.image.manifest.v1+json\" and .config" >/dev/null' _ "$REGISTRY/t/off:v1"
check "BUILDX_NO_DEFAULT_ATTESTATIONS=1 gives a plain manifest" bash -c '
  BUILDX_NO_DEFAULT_ATTESTATIONS=1 timeout 300 "$SLIPWAY" build -q --state-dir "$2/state" -t "$1" --push --secret id=tok,env=SECRET_TOKEN "$3" >/dev/null &&
  raw "$1" | jq -e ".mediaType == \"application/vnd.oci.image.manifest.v1+json\"" >/dev/null' _ "$REGISTRY/t/nodef:v1" "$dir" "$ctx"
check "--attest type=provenance,disabled=true gives a plain manifest" bash -c '
  timeout 300 "$SLIPWAY" build -q --state-dir "$2/state" -t "$1" --push --attest type=provenance,disabled=true --secret id=tok,env=SECRET_TOKEN "$3" >/dev/null &&
  raw "$1" | jq -e ".mediaType == \"application/vnd.oci.image.manifest.v1+json\"" >/dev/null' _ "$REGISTRY/t/dis:v1" "$dir" "$ctx"

# ---- mode=max, builder-id, v0.2 ----------------------------------------------------------
check "mode=max push" build -t "$REGISTRY/t/max:v1" --push --build-arg FOO=bar-value --label org.example.l=lv \
  --provenance "mode=max,builder-id=https://ci.example/run/42" --secret id=tok,env=SECRET_TOKEN "$ctx"
prov=$(inspect --format '{{json .Provenance}}' "$REGISTRY/t/max:v1" 2>&1)
check "max: builder id, build args and labels with their values, request complete" jq -e '
  .SLSA.runDetails.builder.id == "https://ci.example/run/42" and
  .SLSA.buildDefinition.externalParameters.request.args == {"build-arg:FOO": "bar-value", "label:org.example.l": "lv"} and
  .SLSA.runDetails.metadata.buildkit_completeness.request == true' <<<"$prov"
check "max: the Dockerfile itself" bash -c '
  [ "$(jq -r ".SLSA.runDetails.metadata.buildkit_metadata.source.infos[0].data" <<<"$1" | base64 -d)" = "$(cat "$2/Dockerfile")" ]' _ "$prov" "$ctx"
check "max: the secret is named by its ID only" bash -c '
  jq -e ".SLSA.buildDefinition.externalParameters.request.secrets == [{\"id\":\"tok\"}]" <<<"$1" >/dev/null &&
  b=$(attestation_blobs "$2"); [ -n "$b" ] && ! grep -qE "s3cr3t-v4lue|Cr3d-n0t" <<<"$b"' _ "$prov" "$REGISTRY/t/max:v1"
check "version=v0.2 push" build -t "$REGISTRY/t/v02:v1" --push --attest "type=provenance,mode=min,version=v0.2" \
  --secret id=tok,env=SECRET_TOKEN "$ctx"
prov=$(inspect --format '{{json .Provenance}}' "$REGISTRY/t/v02:v1" 2>&1)
check "buildx reads v0.2: buildType, materials, invocation" jq -e --arg d "${bb#sha256:}" '
  .SLSA.buildType == "https://mobyproject.org/buildkit@v1" and .SLSA.materials[0].digest.sha256 == $d and
  .SLSA.invocation.configSource.entryPoint == "Dockerfile" and .SLSA.invocation.environment.platform == "linux/amd64"' <<<"$prov"

# ---- a Git checkout: its repository and commit, the credential in its URL left out -------
git=$dir/git; mkdir -p "$git"
printf 'FROM %s/base/busybox:latest\nRUN true\n' "$REGISTRY" > "$git/Dockerfile"
(cd "$git" && git init -q && git -c user.name=t -c user.email=t@example.com commit -qm init --allow-empty &&
  git add Dockerfile && git -c user.name=t -c user.email=t@example.com commit -qm df &&
  git remote add origin https://ci-bot:tok3n-n0t-in-att@git.example/org/repo.git)
commit=$(git -C "$git" rev-parse HEAD)
check "a push from a Git checkout" build -t "$REGISTRY/t/git:v1" --push "$git"
prov=$(inspect --format '{{json .Provenance}}' "$REGISTRY/t/git:v1" 2>&1)
check "provenance names the repository and the commit, without the URL's credential" jq -e --arg c "$commit" '
  .SLSA.buildDefinition.externalParameters.configSource == {"uri": "https://git.example/org/repo.git", "digest": {"sha1": $c}, "path": "Dockerfile"} and
  .SLSA.runDetails.metadata.buildkit_metadata.vcs == {"revision": $c, "source": "https://git.example/org/repo.git"}' <<<"$prov"
check "the Git credential is in no attestation blob" bash -c 'b=$(attestation_blobs "$1"); [ -n "$b" ] && ! grep -q tok3n <<<"$b"' _ "$REGISTRY/t/git:v1"

# ---- SBOM ---------------------------------------------------------------------------------
check "--sbom=true push of an image without package metadata" build -t "$REGISTRY/t/sbom0:v1" --push --sbom=true \
  --secret id=tok,env=SECRET_TOKEN "$ctx"
sb=$(inspect --format '{{json .SBOM}}' "$REGISTRY/t/sbom0:v1" 2>&1)
check "buildx reads the SBOM: SPDX 2.3, no packages, not an error" jq -e '.SPDX.spdxVersion == "SPDX-2.3" and .SPDX.packages == []' <<<"$sb"
check "SBOM and provenance side by side in one attestation manifest" bash -c '
  m=$(raw "$1" | jq -r ".manifests[1].digest")
  curl -sf -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$REGISTRY/v2/t/sbom0/manifests/$m" |
    jq -e "[.layers[].annotations[\"in-toto.io/predicate-type\"]] == [\"https://spdx.dev/Document\",\"https://slsa.dev/provenance/v1\"]" >/dev/null' _ "$REGISTRY/t/sbom0:v1"

# A Debian package database: this machine's own (Debian 12, hundreds of packages), plus a
# distroless-style status.d/ entry, in an image; dpkg-query reading the same database is the
# reference.
deb=$dir/deb; mkdir -p "$deb/status.d"
cp /var/lib/dpkg/status "$deb/status"
printf 'Package: extra-distroless\nVersion: 1:2.0+ds-1\nArchitecture: all\n' > "$deb/status.d/extra-distroless"
cat > "$deb/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
COPY status /var/lib/dpkg/status
COPY status.d /var/lib/dpkg/status.d/
RUN printf 'ID=debian\nVERSION_ID="12"\n' > /etc/os-release
DF
check "--sbom=true push of a Debian-like image" build -t "$REGISTRY/t/deb:v1" --push --sbom=true "$deb"
sb=$(inspect --format '{{json .SBOM}}' "$REGISTRY/t/deb:v1" 2>&1)
mkdir -p "$dir/admin/updates"; cp /var/lib/dpkg/status "$dir/admin/status"
want=$( (dpkg-query --admindir="$dir/admin" -W -f '${Package}\t${Version}\n'; printf 'extra-distroless\t1:2.0+ds-1\n') | sort)
got=$(jq -r '.SPDX.packages[] | select(.externalRefs[0].referenceLocator | startswith("pkg:deb/")) | "\(.name)\t\(.versionInfo)"' <<<"$sb" | sort)
check "the SBOM's Debian packages are what dpkg-query -W lists ($(wc -l <<<"$want") packages)" test "$got" = "$want"
printf '%s' "$sb" > "$dir/deb-sbom.json"
check "Debian purls: pkg:deb/debian/NAME@VERSION?arch=…&distro=debian-12" jq -e '
  .SPDX.packages[] | select(.name == "extra-distroless") | .externalRefs[0].referenceLocator == "pkg:deb/debian/extra-distroless@1%3A2.0%2Bds-1?arch=all&distro=debian-12"' "$dir/deb-sbom.json"

# A real Debian image and dpkg-query run inside it, when the machine's bench registry has one.
if curl -sf -o /dev/null "http://127.0.0.1:5001/v2/debian/manifests/bookworm" -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'; then
  real=$dir/real; mkdir -p "$real"
  printf 'FROM 127.0.0.1:5001/debian:bookworm\nRUN dpkg-query -W -f '"'"'${Package}\\t${Version}\\n'"'"' > /dpkg-query.txt\n' > "$real/Dockerfile"
  check "--sbom=true of debian:bookworm" build -t "$REGISTRY/t/bookworm:v1" --push --sbom=true -o "type=local,dest=$dir/real-out" "$real"
  check "its SBOM lists exactly what dpkg-query -W printed inside it" bash -c '
    [ "$(jq -r ".predicate.packages[] | select(.externalRefs[0].referenceLocator | startswith(\"pkg:deb/\")) | \"\(.name)\t\(.versionInfo)\"" "$1/sbom.spdx.json" | sort)" = "$(sort "$1/dpkg-query.txt")" ]' _ "$dir/real-out"
  check "licenses from the packages' copyright files (bash: GPL-3.0-or-later)" jq -e '
    .predicate.packages[] | select(.name == "bash") | .licenseDeclared | contains("GPL-3.0-or-later")' "$dir/real-out/sbom.spdx.json"
fi

# ---- several platforms ------------------------------------------------------------------------
printf 'FROM %s/base/busybox:latest\nRUN uname -m > /arch\n' "$REGISTRY" > "$ctx/Dockerfile.multi"
check "amd64+arm64 push with provenance and SBOM" build --platform linux/amd64,linux/arm64 -t "$REGISTRY/t/multi:v1" \
  --push --sbom=true -f "$ctx/Dockerfile.multi" "$ctx"
ix=$(raw "$REGISTRY/t/multi:v1")
check "one attestation manifest per platform, after both images, each naming its own" jq -e '
  ([.manifests[].platform | "\(.os)/\(.architecture)"] == ["linux/amd64","linux/arm64","unknown/unknown","unknown/unknown"]) and
  .manifests[2].annotations["vnd.docker.reference.digest"] == .manifests[0].digest and
  .manifests[3].annotations["vnd.docker.reference.digest"] == .manifests[1].digest' <<<"$ix"
prov=$(inspect --format '{{json .Provenance}}' "$REGISTRY/t/multi:v1" 2>&1)
check "buildx reads each platform's provenance, with that platform's base" jq -e '
  (.["linux/amd64"].SLSA.buildDefinition.resolvedDependencies[0].uri | endswith("platform=linux%2Famd64")) and
  (.["linux/arm64"].SLSA.buildDefinition.resolvedDependencies[0].uri | endswith("platform=linux%2Farm64"))' <<<"$prov"
sb=$(inspect --format '{{json .SBOM}}' "$REGISTRY/t/multi:v1" 2>&1)
check "and each platform's SBOM" jq -e '(.["linux/amd64"].SPDX.spdxVersion == "SPDX-2.3") and (.["linux/arm64"].SPDX.spdxVersion == "SPDX-2.3")' <<<"$sb"

# ---- file outputs ---------------------------------------------------------------------------
check "-o type=oci with provenance" build -o "type=oci,dest=$dir/img.tar" --provenance=true -f "$ctx/Dockerfile.multi" "$ctx"
mkdir -p "$dir/oci" && tar -xf "$dir/img.tar" -C "$dir/oci"
check "the oci layout's index lists the attestation manifest, and has its blobs" bash -c '
  o=$1; top=$(jq -r ".manifests[0].digest | ltrimstr(\"sha256:\")" "$o/index.json")
  jq -e ".manifests[1].annotations[\"vnd.docker.reference.type\"] == \"attestation-manifest\"" "$o/blobs/sha256/$top" >/dev/null &&
  a=$(jq -r ".manifests[1].digest | ltrimstr(\"sha256:\")" "$o/blobs/sha256/$top") &&
  for d in $(jq -r ".config.digest, .layers[].digest | ltrimstr(\"sha256:\")" "$o/blobs/sha256/$a"); do test -f "$o/blobs/sha256/$d" || exit 1; done' _ "$dir/oci"
check "-o type=local with provenance and SBOM" build -o "type=local,dest=$dir/local" --provenance=true --sbom=true -f "$ctx/Dockerfile.multi" "$ctx"
check "local: provenance.json and sbom.spdx.json, statements about the output's files" bash -c '
  d=$1; jq -e "._type == \"https://in-toto.io/Statement/v1\" and .predicateType == \"https://slsa.dev/provenance/v1\" and
    ([.subject[].name] | index(\"arch\")) != null" "$d/provenance.json" >/dev/null &&
  jq -e ".predicateType == \"https://spdx.dev/Document\" and .predicate.spdxVersion == \"SPDX-2.3\"" "$d/sbom.spdx.json" >/dev/null &&
  [ "$(jq -r ".subject[] | select(.name == \"arch\") | .digest.sha256" "$d/provenance.json")" = "$(sha256sum < "$d/arch" | cut -d" " -f1)" ]' _ "$dir/local"
check "local without asking: no attestation file (the default provenance is for images)" bash -c '
  timeout 300 "$SLIPWAY" build -q --state-dir "$1/state" -o "type=local,dest=$1/local2" -f "$2/Dockerfile.multi" "$2" >/dev/null &&
  test -f "$1/local2/arch" && ! test -e "$1/local2/provenance.json"' _ "$dir" "$ctx"
check "--sbom=true with -o type=docker is refused, as buildx refuses it" bash -c '
  out=$(timeout 300 "$SLIPWAY" build -q --state-dir "$1/state" -o "type=docker,dest=$1/d.tar" --sbom=true -f "$2/Dockerfile.multi" "$2" 2>&1)
  [ $? -ne 0 ] && grep -q "docker exporter does not support exporting manifest lists" <<<"$out" && ! test -e "$1/d.tar"' _ "$dir" "$ctx"
check "two platforms into a local output: each platform's directory gets its attestation files" bash -c '
  timeout 300 "$SLIPWAY" build -q --state-dir "$1/state" --platform linux/amd64,linux/arm64 -o "type=local,dest=$1/local3" --sbom=true --provenance=true -f "$2/Dockerfile.multi" "$2" >/dev/null &&
  for p in linux_amd64 linux_arm64; do
    jq -e ".predicateType == \"https://spdx.dev/Document\"" "$1/local3/$p/sbom.spdx.json" >/dev/null &&
    jq -e "[.subject[].name] | index(\"arch\") != null" "$1/local3/$p/provenance.json" >/dev/null || exit 1
  done
  grep -q aarch64 "$1/local3/linux_arm64/arch" &&
  jq -e ".predicate.buildDefinition.resolvedDependencies[0].uri | endswith(\"platform=linux%2Farm64\")" "$1/local3/linux_arm64/provenance.json" >/dev/null' _ "$dir" "$ctx"
printf 'FROM %s/t/def:v1\nRUN test -s /toklen\n' "$REGISTRY" > "$ctx/Dockerfile.from"
check "FROM an attested image takes its runnable manifest, not the attestation" \
  build -t "$REGISTRY/t/from:v1" --push --provenance=false -f "$ctx/Dockerfile.from" "$ctx"

# ADD URLs are resolved dependencies too, with the digest of what was downloaded
web=$dir/web; mkdir -p "$web"; printf 'downloaded payload\n' > "$web/payload.txt"
wport=$(free_port)
(cd "$web" && exec python3 -m http.server --bind 127.0.0.1 "$wport" >/dev/null 2>&1) &
wpid=$!
on_exit "kill $wpid 2>/dev/null; wait $wpid 2>/dev/null"
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$wport/payload.txt" && break; sleep 0.05; done
printf 'FROM %s/base/busybox:latest\nADD http://127.0.0.1:%s/payload.txt /opt/\nCOPY --from=%s/base/busybox:latest-amd64 /bin/busybox /bb\n' \
  "$REGISTRY" "$wport" "$REGISTRY" > "$ctx/Dockerfile.add"
check "an ADD URL build with provenance" build -o "type=local,dest=$dir/local-add" --provenance=true -f "$ctx/Dockerfile.add" "$ctx"
check "the URL is a resolved dependency with the digest of what it gave" jq -e \
  --arg u "http://127.0.0.1:$wport/payload.txt" --arg d "$(sha256sum < "$web/payload.txt" | cut -d' ' -f1)" '
  .predicate.buildDefinition.resolvedDependencies | any(. == {"uri": $u, "digest": {"sha256": $d}})' "$dir/local-add/provenance.json"
check "a COPY --from image is a resolved dependency, with its digest" jq -e \
  --arg u "pkg:docker/$REGISTRY/base/busybox@latest-amd64?platform=linux%2Famd64" \
  --arg d "$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/base/busybox:latest-amd64" | sha256sum | cut -d' ' -f1)" '
  .predicate.buildDefinition.resolvedDependencies | any(. == {"uri": $u, "digest": {"sha256": $d}})' "$dir/local-add/provenance.json"
check "BUILDX_GIT_INFO=0 leaves the repository out" bash -c '
  BUILDX_GIT_INFO=0 timeout 300 "$SLIPWAY" build -q --state-dir "$1/state" -o "type=local,dest=$1/local-nogit" --provenance=true "$2" >/dev/null &&
  jq -e "(.predicate.buildDefinition.externalParameters.configSource | has(\"uri\") | not) and (.predicate.runDetails.metadata.buildkit_metadata | has(\"vcs\") | not)" "$1/local-nogit/provenance.json" >/dev/null &&
  timeout 300 "$SLIPWAY" build -q --state-dir "$1/state" -o "type=local,dest=$1/local-git" --provenance=true "$2" >/dev/null &&
  jq -e ".predicate.runDetails.metadata.buildkit_metadata.vcs.revision == \"$3\"" "$1/local-git/provenance.json" >/dev/null' _ "$dir" "$git" "$commit"
