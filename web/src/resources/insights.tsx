import { Card, CardContent, Typography } from "@mui/material";
import { Title, useTranslate } from "react-admin";

export function InsightsPage() {
  const translate = useTranslate();
  return (
    <Card sx={{ mt: 2 }}>
      <Title title={translate("datoferum.insights.title")} />
      <CardContent>
        <Typography variant="h5" component="h1" gutterBottom>
          {translate("datoferum.insights.title")}
        </Typography>
        <Typography>{translate("datoferum.insights.soon")}</Typography>
      </CardContent>
    </Card>
  );
}
