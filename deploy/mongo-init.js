// Runs once, when the MongoDB volume is first initialised (docker-entrypoint-initdb.d).
// One user per service, able to read and write only that service's own database.
const services = ["mediation", "enterprise", "outreach", "notifier"];
for (const name of services) {
  const password = process.env[`${name.toUpperCase()}_DB_PASSWORD`];
  if (!password) {
    throw new Error(`${name.toUpperCase()}_DB_PASSWORD is not set`);
  }
  db.getSiblingDB(name).createUser({
    user: name,
    pwd: password,
    roles: [{ role: "readWrite", db: name }],
  });
}
