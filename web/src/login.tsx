import { useState, type FormEvent } from "react";
import { Alert, Box, Button, Card, CardContent, TextField, Typography } from "@mui/material";
import { LocalesMenuButton, useLogin, useTranslate } from "react-admin";
import { oidc } from "./oidc";

export function LoginPage() {
  const login = useLogin();
  const translate = useTranslate();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(() => {
    const failure = oidc.takeFailure();
    return failure && translate("datoferum.login.oidc_failed", { reason: failure });
  });
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login({ token });
    } catch (failure) {
      const message = failure instanceof Error ? failure.message : String(failure);
      setError(translate(message, { _: message }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box component="main" sx={{ minHeight: "100vh", display: "flex", alignItems: "center", justifyContent: "center", p: 2, bgcolor: "background.default" }}>
      <Card sx={{ width: "100%", maxWidth: 440 }}>
        <CardContent>
          <Box sx={{ display: "flex", justifyContent: "space-between", alignItems: "center" }}>
            <Typography variant="h5" component="h1">
              {translate("datoferum.login.title")}
            </Typography>
            <LocalesMenuButton />
          </Box>
          <Box component="form" onSubmit={submit} sx={{ mt: 2, display: "grid", gap: 2 }}>
            <TextField
              id="token"
              name="token"
              type="password"
              autoComplete="current-password"
              label={translate("datoferum.login.token")}
              helperText={translate("datoferum.login.token_help")}
              value={token}
              onChange={(event) => setToken(event.target.value)}
              autoFocus
              fullWidth
            />
            {error && <Alert severity="error">{error}</Alert>}
            <Button type="submit" variant="contained" disabled={busy}>
              {translate("datoferum.login.submit")}
            </Button>
            {oidc.configured && (
              <Button variant="outlined" onClick={() => void oidc.start()}>
                {translate("datoferum.login.oidc")}
              </Button>
            )}
          </Box>
        </CardContent>
      </Card>
    </Box>
  );
}
