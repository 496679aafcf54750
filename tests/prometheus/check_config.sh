#!/bin/sh
# Usage: check_config.sh PROMTOOL CONFIG WORK_DIR
# Runs `promtool check config` on the example deploy/prometheus/prometheus.yml. promtool insists
# that every credentials_file exists, and the example points at /etc/prometheus/nordiq_api_key,
# so this checks a copy of the config's directory in WORK_DIR where that path, and nothing else,
# points at a dummy key. promtool also checks the rule_files it names, relative to the copy.
set -eu
promtool=$1 config=$2 work=$3
key_path=/etc/prometheus/nordiq_api_key

grep -q "credentials_file: $key_path\$" "$config" || {
  echo "$config no longer reads the key from $key_path; update $0" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
cp "$(dirname "$config")"/*.yml "$work"/
printf 'dummy-key\n' > "$work/nordiq_api_key"
sed "s#credentials_file: $key_path\$#credentials_file: $work/nordiq_api_key#" "$config" \
  > "$work/$(basename "$config")"
exec "$promtool" check config "$work/$(basename "$config")"
