import { useEffect, useState } from "react";
import {
  Alert, Button, Dialog, DialogActions, DialogContent, DialogTitle, Table, TableBody, TableCell,
  TableHead, TableRow, Typography,
} from "@mui/material";
import { useTranslate } from "react-admin";
import { api, jsonBody, type Problem } from "../api";

interface Outcome {
  version: number;
  outcome: string;
  detail?: string;
  [extra: string]: unknown;
}

interface Plan {
  plan_id: string | null;
  dry_run: boolean;
  items: Outcome[];
}

const MESSAGES: Record<string, string> = {
  held: "datoferum.purge.blocked",
  retained: "datoferum.purge.retained",
};

/** A dry run of a purge of one file: the plan the server would carry out, nothing deleted. */
export function PurgePreview({ fileId, onClose }: { fileId: string; onClose: () => void }) {
  const translate = useTranslate();
  const [plan, setPlan] = useState<Plan | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api<Plan>(`/api/v1/files/${fileId}/purge`, jsonBody({ dry_run: true, reason: "preview from the web UI" }))
      .then(({ json }) => setPlan(json))
      .catch((failure: { message: string; body?: Problem }) => {
        const outcomes = failure.body?.outcomes as Outcome[] | undefined;
        if (outcomes) setPlan({ plan_id: null, dry_run: true, items: outcomes });
        setError(failure.message);
      });
  }, [fileId]);

  const blocked = plan?.items.filter((item) => item.outcome in MESSAGES) ?? [];
  return (
    <Dialog open onClose={onClose} fullWidth maxWidth="md" aria-labelledby="purge-title">
      <DialogTitle id="purge-title">{translate("datoferum.purge.title")}</DialogTitle>
      <DialogContent>
        <Typography variant="body2" gutterBottom>
          {translate("datoferum.purge.intro")}
        </Typography>
        {error && <Alert severity="error">{error}</Alert>}
        {!plan && !error && <Typography>{translate("datoferum.common.loading")}</Typography>}
        {blocked.length > 0 && (
          <Alert severity="warning" data-testid="purge-blocked" sx={{ my: 1 }}>
            {translate(MESSAGES[blocked[0].outcome])}: {blocked[0].detail ?? ""}
          </Alert>
        )}
        {plan && (
          <>
            {plan.plan_id && (
              <Typography variant="caption" component="p">
                {translate("datoferum.purge.plan", { id: plan.plan_id })}
              </Typography>
            )}
            <Table size="small">
              <TableHead>
                <TableRow>
                  <TableCell>{translate("datoferum.purge.version")}</TableCell>
                  <TableCell>{translate("datoferum.purge.outcome")}</TableCell>
                  <TableCell>{translate("datoferum.common.details")}</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {plan.items.map((item) => (
                  <TableRow key={item.version}>
                    <TableCell>{item.version}</TableCell>
                    <TableCell>
                      {item.outcome in MESSAGES ? translate(MESSAGES[item.outcome]) : item.outcome}
                    </TableCell>
                    <TableCell>{item.detail ?? ""}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>{translate("ra.action.close")}</Button>
      </DialogActions>
    </Dialog>
  );
}
