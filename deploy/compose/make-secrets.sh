#!/usr/bin/env bash
# Writes the secrets compose.yaml reads (random passwords), once:
#
#   deploy/compose/make-secrets.sh [DIR]      # default: deploy/compose/secrets
#
# Existing files are kept, so running it again changes nothing. The folder is 0700;
# the files are 0644 because the containers read them as their own non-root users
# (postgres 999, rabbitmq 999, kg 10001) through bind mounts.
set -euo pipefail
DIR=${1:-$(cd "$(dirname "$0")" && pwd)/secrets}
AMQP_USER=kg
mkdir -p "$DIR"
chmod 0700 "$DIR"

random_password() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }

write_once() { # file content
    if [ -s "$1" ]; then
        echo "kept    $1" >&2
    else
        (umask 022 && printf '%s\n' "$2" >"$1")
        echo "written $1" >&2
    fi
}

write_once "$DIR/postgres_password" "$(random_password)"
write_once "$DIR/amqp_password" "$(random_password)"
write_once "$DIR/admin_password" "$(random_password)"
# The Erlang cookie every RabbitMQ node of the cluster shares (compose copies it into place
# with mode 0400 for the rabbitmq user, as Erlang demands).
write_once "$DIR/rabbitmq_erlang_cookie" "$(random_password)"

# RabbitMQ users come from definitions (imported at boot after the topology file):
# the kg user with the password above, allowed everything on the default vhost.
amqp_password=$(head -n 1 "$DIR/amqp_password")
write_once "$DIR/rabbitmq-users.json" "{
  \"users\": [{\"name\": \"$AMQP_USER\", \"password\": \"$amqp_password\", \"tags\": []}],
  \"permissions\": [{\"user\": \"$AMQP_USER\", \"vhost\": \"/\", \"configure\": \".*\", \"write\": \".*\", \"read\": \".*\"}]
}"
