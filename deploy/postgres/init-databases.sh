#!/bin/sh
# One database per service, each owned by its own role (docker-compose.yml mounts this
# into the postgres image's /docker-entrypoint-initdb.d/; it runs once, on an empty volume).
# Passwords: FLOTILLA_DB_PASSWORD (development only; production databases are external).
set -eu
password=${FLOTILLA_DB_PASSWORD:-flotilla}
# BEGIN generated: services (services.toml; make generate)
databases="users catalog orders"
# END generated
for db in $databases; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v name="$db" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
