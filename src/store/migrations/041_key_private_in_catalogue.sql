-- The private half of each recording key, as the armored OpenPGP secret key locked under the key
-- passphrase (S2K; never an unlocked key): every node of a cluster that has the passphrase can
-- then play, deliver and re-encrypt recordings encrypted to a key generated on another node (the
-- console, the API or `srs keys generate` there), without copying `keys/` between nodes. A node
-- puts its keys here at start and when it generates one, unless keys.inCatalogue is false.
ALTER TABLE keys ADD COLUMN private_key text;
