#!/bin/sh
# Rendered by `sendx deploy manifests` from contracts/topology.py: do not edit by hand.
# Runs once, on an empty data directory (postgres' /docker-entrypoint-initdb.d).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$PG_PASSWORD_LA_856" <<'SQL'
CREATE ROLE la_856 LOGIN PASSWORD :'pw';
CREATE DATABASE sendx_la_856 OWNER la_856;
REVOKE ALL ON DATABASE sendx_la_856 FROM PUBLIC;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$PG_PASSWORD_LA_855" <<'SQL'
CREATE ROLE la_855 LOGIN PASSWORD :'pw';
CREATE DATABASE sendx_la_855 OWNER la_855;
REVOKE ALL ON DATABASE sendx_la_855 FROM PUBLIC;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$PG_PASSWORD_LA_857" <<'SQL'
CREATE ROLE la_857 LOGIN PASSWORD :'pw';
CREATE DATABASE sendx_la_857 OWNER la_857;
REVOKE ALL ON DATABASE sendx_la_857 FROM PUBLIC;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$PG_PASSWORD_ICB_QK1" <<'SQL'
CREATE ROLE icb_qk1 LOGIN PASSWORD :'pw';
CREATE DATABASE sendx_icb_qk1 OWNER icb_qk1;
REVOKE ALL ON DATABASE sendx_icb_qk1 FROM PUBLIC;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$PG_PASSWORD_ICB_RT5" <<'SQL'
CREATE ROLE icb_rt5 LOGIN PASSWORD :'pw';
CREATE DATABASE sendx_icb_rt5 OWNER icb_rt5;
REVOKE ALL ON DATABASE sendx_icb_rt5 FROM PUBLIC;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$PG_PASSWORD_PROVIDER_120001" <<'SQL'
CREATE ROLE provider_120001 LOGIN PASSWORD :'pw';
CREATE DATABASE sendx_provider_120001 OWNER provider_120001;
REVOKE ALL ON DATABASE sendx_provider_120001 FROM PUBLIC;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$PG_PASSWORD_PROVIDER_AP001" <<'SQL'
CREATE ROLE provider_ap001 LOGIN PASSWORD :'pw';
CREATE DATABASE sendx_provider_ap001 OWNER provider_ap001;
REVOKE ALL ON DATABASE sendx_provider_ap001 FROM PUBLIC;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -v pw="$PG_PASSWORD_READ_MODELS" <<'SQL'
CREATE ROLE read_models LOGIN PASSWORD :'pw';
CREATE DATABASE sendx_read_models OWNER read_models;
REVOKE ALL ON DATABASE sendx_read_models FROM PUBLIC;
SQL
